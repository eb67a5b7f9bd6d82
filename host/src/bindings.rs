//! Host bindings generated from `host/wit`: the Spin capabilities beyond WASI and `wasi:http`.

#![expect(missing_docs, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "wit",
    world: "portal:host/capabilities",
    imports: {
        // Creating the key stream can fail only for host reasons; that failure traps.
        "spin:key-value/key-value.[method]store.get-keys": async | store | trappable,
        default: async,
    },
});
