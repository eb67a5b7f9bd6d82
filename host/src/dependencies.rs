//! Component dependencies (`[component.NAME.dependencies]`): an interface one component imports
//! is satisfied by another component's export.
//!
//! A dependency that imports only WASI basics is composed into its importer at load time (see
//! `compose`). Any other dependency runs, at each call, in a store of its own, with its own
//! memory limit and deadline, and with no capabilities unless the manifest sets
//! `dependencies_inherit_configuration = true`. Either way a parser bug in the dependency
//! cannot reach the importer's stores, variables or network.
//!
//! NOTE: on the forwarding path arguments cross between the two stores as dynamic `Val`s, one
//! per list element, which suits records, strings and byte lists of a few MiB; interfaces with
//! resources cannot be forwarded this way.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Weak};

use anyhow::{Context, bail};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

use crate::app::{self, App, Capabilities, HostState};
use crate::clock::TestClock;
use crate::kv::StoreManager;
use crate::manifest::{self, Dependency, Manifest};

/// Links every dependency of `component` into `linker`.
#[expect(clippy::too_many_arguments, reason = "one call site, during loading")]
pub fn link(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    id: &str,
    component: &manifest::Component,
    manifest: &Manifest,
    base: &Path,
    capabilities: &HashMap<String, Capabilities>,
    app: &Weak<App>,
    kv: &Arc<StoreManager>,
    clock: &TestClock,
    composed: &HashSet<String>,
) -> anyhow::Result<()> {
    for (import, dependency) in &component.dependencies {
        if composed.contains(import) {
            continue;
        }
        let (source, export) = match dependency {
            Dependency::AppComponent { component, export } => (
                base.join(&manifest.components[component].source),
                export.clone().unwrap_or_else(|| import.clone()),
            ),
            Dependency::Local { path, export } => (
                base.join(path),
                export.clone().unwrap_or_else(|| import.clone()),
            ),
        };
        let compiled = Component::from_file(engine, &source)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "component {id:?}: failed to load dependency {}",
                    source.display()
                )
            })?;
        let pre = app::base_linker(engine)?
            .instantiate_pre(&compiled)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("component {id:?}: dependency for {import:?}"))?;

        let inherited = component
            .dependencies_inherit_configuration
            .then(|| capabilities.get(id).cloned())
            .flatten();
        let target = Target {
            pre,
            export: export.clone(),
            capabilities: inherited,
            importer: id.to_owned(),
            app: app.clone(),
            kv: kv.clone(),
            clock: clock.clone(),
        };
        forward_interface(linker, engine, &compiled, import, Arc::new(target))?;
    }
    Ok(())
}

/// Everything needed to call into one dependency.
struct Target {
    pre: InstancePre<HostState>,
    export: String,
    capabilities: Option<Capabilities>,
    importer: String,
    app: Weak<App>,
    kv: Arc<StoreManager>,
    clock: TestClock,
}

impl Target {
    fn new_store(&self, engine: &Engine) -> Store<HostState> {
        let state = match (&self.capabilities, self.app.upgrade()) {
            (Some(capabilities), Some(app)) => app.new_state(&self.importer, capabilities),
            _ => app::capability_free_state(
                &format!("{}:{}", self.importer, self.export),
                &self.kv,
                &self.clock,
                self.app
                    .upgrade()
                    .map_or(app::Limits::DEFAULT_MAX_MEMORY, |app| {
                        app.limits().max_memory
                    }),
            ),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limiter());
        store.set_hostcall_fuel(self.app.upgrade().map_or_else(
            || app::Limits::default().hostcall_fuel(),
            |app| app.limits().hostcall_fuel(),
        ));
        // Yield every tick like the importer; the importer's request deadline covers the call.
        store.epoch_deadline_async_yield_and_update(1);
        store
    }
}

/// Defines each function of the exported interface under the import name, forwarding calls.
fn forward_interface(
    linker: &mut Linker<HostState>,
    engine: &Engine,
    compiled: &Component,
    import: &str,
    target: Arc<Target>,
) -> anyhow::Result<()> {
    let exported = compiled
        .component_type()
        .exports(engine)
        .find(|(name, _)| *name == target.export)
        .map(|(_, item)| item.ty);
    let Some(ComponentItem::ComponentInstance(interface)) = exported else {
        bail!(
            "dependency for {import:?} does not export an interface named {:?}",
            target.export
        );
    };

    let mut instance = linker.instance(import)?;
    for (function, item) in interface.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(_) => {}
            ComponentItem::Type(_) => continue,
            _ => bail!(
                "dependency interface {import:?} exports {function:?}, which is neither a \
                 function nor a plain type"
            ),
        }
        let target = target.clone();
        let engine = engine.clone();
        let function = function.to_owned();
        let name = function.clone();
        instance.func_new_async(&name, move |_caller, _type, params, results| {
            let target = target.clone();
            let engine = engine.clone();
            let function = function.clone();
            Box::new(async move {
                let mut store = target.new_store(&engine);
                let instance = target.pre.instantiate_async(&mut store).await?;
                let interface = instance
                    .get_export_index(&mut store, None, &target.export)
                    .ok_or_else(|| wasmtime::Error::msg("dependency export disappeared"))?;
                let index = instance
                    .get_export_index(&mut store, Some(&interface), &function)
                    .ok_or_else(|| wasmtime::Error::msg("dependency function disappeared"))?;
                let func = instance
                    .get_func(&mut store, index)
                    .ok_or_else(|| wasmtime::Error::msg("dependency export is not a function"))?;
                func.call_async(&mut store, params, results).await?;
                Ok(())
            })
        })?;
    }
    Ok(())
}
