//! Test dependency: tries to use capabilities, so tests can show it gets none.

wit_bindgen::generate!({
    world: "portal:probe/probe-dep",
    path: "../wit",
});

use spin_sdk::experimental::wasi::config::store as config;
use spin_sdk::experimental::wasi::keyvalue::store;

struct Dep;

impl exports::portal::probe::dep::Guest for Dep {
    fn try_open_store(label: String) -> String {
        match store::open(&label) {
            Ok(_) => "opened".to_owned(),
            Err(store::Error::AccessDenied) => "access-denied".to_owned(),
            Err(store::Error::NoSuchStore) => "no-such-store".to_owned(),
            Err(store::Error::Other(message)) => format!("other: {message}"),
        }
    }

    fn try_read_config(name: String) -> String {
        match config::get(&name) {
            Ok(Some(value)) => value,
            Ok(None) => "missing".to_owned(),
            Err(_) => "error".to_owned(),
        }
    }

    fn reverse(text: String) -> String {
        text.chars().rev().collect()
    }
}

export!(Dep);
