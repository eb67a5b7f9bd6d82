//! Host bindings generated from `host/wit`: the Spin capabilities beyond WASI and `wasi:http`.

#![expect(missing_docs, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "wit",
    world: "portal:host/capabilities",
    imports: { default: async },
});
