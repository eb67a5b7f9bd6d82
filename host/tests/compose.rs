//! Which dependencies the host composes into their importer, and which keep a store of their
//! own: only a dependency that imports nothing but WASI basics shares the importer's instance.
#![expect(
    clippy::expect_used,
    reason = "a test reports a broken fixture by panicking"
)]

use std::path::{Path, PathBuf};

use portal_host::compose::compose;
use portal_host::manifest::Manifest;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn capability_free_sanitizer_is_composed() {
    let path = root().join("spin.toml");
    let manifest = Manifest::load(&path).expect("manifest");
    let uploads = &manifest.components["uploads"];
    let composed = compose(
        "uploads",
        uploads,
        &manifest,
        &root(),
        &root().join(&uploads.source),
    )
    .expect("composes")
    .expect("the sanitizer qualifies");
    assert!(
        composed
            .satisfied
            .contains("portal:sanitizer/sanitize@0.1.0")
    );
    // The component binary preamble: magic, version 0x0d, layer 1.
    assert_eq!(composed.bytes.get(..8), Some(&b"\0asm\x0d\0\x01\0"[..]));
}

#[test]
fn dependency_importing_capabilities_is_not_composed() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let manifest = Manifest::load(&fixtures.join("probe.toml")).expect("manifest");
    let probe = &manifest.components["probe"];
    // probe-dep imports key-value and configuration interfaces, so it keeps its own store,
    // where the host denies them.
    let composed = compose(
        "probe",
        probe,
        &manifest,
        &fixtures,
        &fixtures.join(&probe.source),
    )
    .expect("reads the components");
    assert!(composed.is_none());
}
