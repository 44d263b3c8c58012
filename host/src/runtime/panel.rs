//! A panel's adapter: its component pre-instantiated once, a fresh instance per operation.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use wasmtime::Result;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance as ComponentInstance, Lift, Lower,
};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store, UpdateDeadline};

use super::bindings::{v1_0, v1_1, v2_0};
use super::compat::{down, up};
use super::engine::{Carrying, Generation, Runtime};
use super::state::{Exchange, HostState, PanelContext, Recording};
use crate::adapter::{Adapter, BoxFuture, Call, CallError, CallRecord, Outcome};
use crate::model::{AdapterError, Description, FieldIssue, ValidationRequest, v1};

/// The component linked for the contract version it targets.
enum Pre {
    V1_0(v1_0::AdapterPre<HostState>),
    V1_1(v1_1::AdapterPre<HostState>),
    V2_0(v2_0::AdapterPre<HostState>),
}

/// Where each operation's function sits in the component, found once when the panel loads. A
/// call then type-checks only the function it calls: loading every export of the contract on
/// each instantiation type-checked all of them, deep records and all, every time. The
/// functions a later contract version added are absent from an older adapter.
struct Exports {
    quote: ComponentExportIndex,
    accept: ComponentExportIndex,
    upload_document: ComponentExportIndex,
    confirm: ComponentExportIndex,
    cancel: ComponentExportIndex,
    claim: ComponentExportIndex,
    status: ComponentExportIndex,
    policy_document: ComponentExportIndex,
    handle_callback: ComponentExportIndex,
    look_up: ComponentExportIndex,
    poll: ComponentExportIndex,
    notify: ComponentExportIndex,
    validate: Option<ComponentExportIndex>,
    decline_quote: Option<ComponentExportIndex>,
    quote_change: Option<ComponentExportIndex>,
    change: Option<ComponentExportIndex>,
    quote_cancellation: Option<ComponentExportIndex>,
}

impl Exports {
    fn find(component: &Component, wit: &str) -> Result<Exports> {
        let interface = format!("panelgate:adapter/operations@{wit}");
        let (_, operations) = component
            .get_export(None, &interface)
            .ok_or_else(|| wasmtime::format_err!("no `{interface}` export"))?;
        let optional = |name: &str| component.get_export_index(Some(&operations), name);
        let find = |name: &str| {
            optional(name).ok_or_else(|| wasmtime::format_err!("`{interface}` exports no `{name}`"))
        };
        // Required where the contract version has them: 1.0.0 lacks `validate`, 1.x the rest.
        let since_2 = |name: &str| {
            if wit.starts_with("2.") {
                find(name).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Exports {
            quote: find("quote")?,
            accept: find("accept")?,
            upload_document: find("upload-document")?,
            confirm: find("confirm")?,
            cancel: find("cancel")?,
            claim: find("claim")?,
            status: find("status")?,
            policy_document: find("policy-document")?,
            handle_callback: find("handle-callback")?,
            look_up: find("look-up")?,
            poll: find("poll")?,
            notify: find("notify")?,
            validate: if wit == "1.0.0" {
                None
            } else {
                Some(find("validate")?)
            },
            decline_quote: since_2("decline-quote")?,
            quote_change: since_2("quote-change")?,
            change: since_2("change")?,
            quote_cancellation: since_2("quote-cancellation")?,
        })
    }
}

/// Calls the function at `index` with `params`, type-checking that one function.
async fn invoke<P, R, E>(
    store: &mut Store<HostState>,
    instance: &ComponentInstance,
    index: &ComponentExportIndex,
    params: P,
) -> Result<Result<R, E>>
where
    P: ComponentNamedList + Lower + Send + Sync,
    (Result<R, E>,): ComponentNamedList + Lift + Send + Sync + 'static,
{
    let func = instance.get_typed_func::<P, (Result<R, E>,)>(&mut *store, index)?;
    let (result,) = func.call_async(&mut *store, params).await?;
    Ok(result)
}

/// The answer for an operation the adapter's contract version does not have.
fn absent(operation: &str, wit: &str) -> AdapterError {
    AdapterError::Unsupported(format!(
        "`{operation}` is not in panelgate:adapter@{wit}, the contract this adapter is built against"
    ))
}

/// Calls the export for `call` on a 2.x adapter: the canonical values are its own.
async fn dispatch_v2(
    store: &mut Store<HostState>,
    instance: &ComponentInstance,
    exports: &Exports,
    call: Call,
) -> Result<Result<Outcome, AdapterError>> {
    let (s, i, e) = (store, instance, exports);
    let wit = "2.0.0";
    Ok(match call {
        Call::Quote(r) => invoke(s, i, &e.quote, (&r,)).await?.map(Outcome::Quote),
        Call::Accept(r) => invoke(s, i, &e.accept, (&r,)).await?.map(Outcome::Accept),
        Call::UploadDocument(r) => invoke(s, i, &e.upload_document, (&r,))
            .await?
            .map(Outcome::UploadDocument),
        Call::Confirm(r) => invoke(s, i, &e.confirm, (&r,)).await?.map(Outcome::Confirm),
        Call::Cancel(r) => invoke(s, i, &e.cancel, (&r,)).await?.map(Outcome::Cancel),
        Call::Claim(r) => invoke(s, i, &e.claim, (&r,)).await?.map(Outcome::Claim),
        Call::Status(r) => invoke(s, i, &e.status, (&r,)).await?.map(Outcome::Status),
        Call::PolicyDocument(r) => invoke(s, i, &e.policy_document, (&r,))
            .await?
            .map(Outcome::PolicyDocument),
        Call::HandleCallback(r) => invoke(s, i, &e.handle_callback, (&r,))
            .await?
            .map(Outcome::HandleCallback),
        Call::Lookup(r) => invoke(s, i, &e.look_up, (&r,)).await?.map(Outcome::Lookup),
        Call::Poll(r) => invoke(s, i, &e.poll, (&r,)).await?.map(Outcome::Poll),
        Call::Notify(r) => invoke(s, i, &e.notify, (&r,)).await?.map(Outcome::Notify),
        Call::DeclineQuote(r) => match &e.decline_quote {
            Some(f) => invoke(s, i, f, (&r,)).await?.map(Outcome::DeclineQuote),
            None => Err(absent("decline-quote", wit)),
        },
        Call::QuoteChange(r) => match &e.quote_change {
            Some(f) => invoke(s, i, f, (&r,)).await?.map(Outcome::QuoteChange),
            None => Err(absent("quote-change", wit)),
        },
        Call::Change(r) => match &e.change {
            Some(f) => invoke(s, i, f, (&r,)).await?.map(Outcome::Change),
            None => Err(absent("change", wit)),
        },
        Call::QuoteCancellation(r) => match &e.quote_cancellation {
            Some(f) => invoke(s, i, f, (&r,)).await?.map(Outcome::QuoteCancellation),
            None => Err(absent("quote-cancellation", wit)),
        },
    })
}

/// Calls a 1.x adapter's export with the input converted down to 1.1.0's types, and its
/// result and error converted back up. An input 1.x cannot carry is the caller's invalid
/// request; a result the host cannot read back, the adapter's fault.
macro_rules! call_v1 {
    ($s:expr, $i:expr, $index:expr, $input:expr, $wit:expr, $in:ty => $out:ty, $wrap:expr) => {{
        let input: $in = match down($input, $wit) {
            Ok(input) => input,
            Err(error) => return Ok(Err(error)),
        };
        match invoke::<_, $out, v1::AdapterError>($s, $i, $index, (&input,)).await? {
            Ok(result) => Ok($wrap(up(&result).map_err(wasmtime::Error::msg)?)),
            Err(error) => Err(up::<_, AdapterError>(&error).map_err(wasmtime::Error::msg)?),
        }
    }};
}

/// Calls the export for `call` on a 1.x adapter.
async fn dispatch_v1(
    store: &mut Store<HostState>,
    instance: &ComponentInstance,
    exports: &Exports,
    call: Call,
    wit: &str,
) -> Result<Result<Outcome, AdapterError>> {
    let (s, i, e) = (store, instance, exports);
    Ok(match call {
        Call::Quote(r) => {
            call_v1!(s, i, &e.quote, &r, wit, v1::QuoteRequest => v1::Quotation, Outcome::Quote)
        }
        Call::Accept(r) => {
            call_v1!(s, i, &e.accept, &r, wit, v1::Application => v1::Acceptance, Outcome::Accept)
        }
        Call::UploadDocument(r) => call_v1!(
            s, i, &e.upload_document, &r, wit,
            v1::Document => v1::DocumentReceipt, Outcome::UploadDocument
        ),
        Call::Confirm(r) => call_v1!(
            s, i, &e.confirm, &r, wit,
            v1::Confirmation => v1::ConfirmResult, Outcome::Confirm
        ),
        Call::Cancel(r) => {
            call_v1!(s, i, &e.cancel, &r, wit, v1::Cancellation => v1::CancelResult, Outcome::Cancel)
        }
        Call::Claim(r) => {
            call_v1!(s, i, &e.claim, &r, wit, v1::ClaimRequest => v1::ClaimReceipt, Outcome::Claim)
        }
        Call::Status(r) => {
            call_v1!(s, i, &e.status, &r, wit, v1::CaseRef => v1::StatusReport, Outcome::Status)
        }
        Call::PolicyDocument(r) => call_v1!(
            s, i, &e.policy_document, &r, wit,
            v1::CaseRef => v1::DocumentContent, Outcome::PolicyDocument
        ),
        Call::HandleCallback(r) => call_v1!(
            s, i, &e.handle_callback, &r, wit,
            v1::CallbackRequest => v1::CallbackOutcome, Outcome::HandleCallback
        ),
        Call::Lookup(r) => call_v1!(
            s, i, &e.look_up, &r, wit,
            v1::LookupRequest => Vec<v1::LookupItem>, Outcome::Lookup
        ),
        Call::Poll(r) => {
            call_v1!(s, i, &e.poll, &r, wit, v1::PollRequest => Vec<v1::WorkItem>, Outcome::Poll)
        }
        Call::Notify(r) => call_v1!(
            s, i, &e.notify, &r, wit,
            v1::Notification => v1::NotifyReceipt, Outcome::Notify
        ),
        Call::DeclineQuote(_) => Err(absent("decline-quote", wit)),
        Call::QuoteChange(_) => Err(absent("quote-change", wit)),
        Call::Change(_) => Err(absent("change", wit)),
        Call::QuoteCancellation(_) => Err(absent("quote-cancellation", wit)),
    })
}

pub struct WasmAdapter {
    runtime: Runtime,
    /// The component linked on the runtime's engine; replaced when the engine is renewed
    /// ([`WasmAdapter::follow`]). A call holds the one it started with to its end.
    linked: std::sync::RwLock<Arc<Linked>>,
    /// The `panelgate:adapter` version the component targets.
    wit: &'static str,
    panel: Arc<PanelContext>,
    description: Description,
    extensions: crate::extensions::ExtensionSchemas,
    permits: Semaphore,
    /// Operations waiting for a permit now.
    waiting: std::sync::atomic::AtomicUsize,
    health: std::sync::Mutex<Health>,
    /// Consecutive faults that quarantine the adapter; 0 never does.
    quarantine_after: u32,
}

/// A component pre-instantiated on one engine, with its exports found.
struct Linked {
    pre: Pre,
    exports: Exports,
}

impl Linked {
    /// Links `component`, built on `generation`'s engine, for `panel`.
    fn new(generation: &Generation, component: &Component, panel: &str) -> Result<(Linked, &'static str)> {
        let wit = super::engine::contract_version(&generation.engine, component).ok_or_else(|| {
            wasmtime::format_err!("the component is not an adapter of a contract version this host runs")
        })?;
        let instance_pre = generation.linker.instantiate_pre(component).with_context(|| {
            format!(
                "panel `{panel}`: the component's imports do not fit the adapter world of panelgate:adapter@{wit}"
            )
        })?;
        let no_exports = || {
            format!(
                "panel `{panel}`: the component does not export the operations of panelgate:adapter@{wit}"
            )
        };
        let exports = Exports::find(instance_pre.component(), wit).with_context(no_exports)?;
        let pre = match wit {
            "1.0.0" => Pre::V1_0(v1_0::AdapterPre::new(instance_pre).with_context(no_exports)?),
            "1.1.0" => Pre::V1_1(v1_1::AdapterPre::new(instance_pre).with_context(no_exports)?),
            _ => Pre::V2_0(v2_0::AdapterPre::new(instance_pre).with_context(no_exports)?),
        };
        Ok((Linked { pre, exports }, wit))
    }

    fn component(&self) -> &Component {
        match &self.pre {
            Pre::V1_0(pre) => pre.instance_pre().component(),
            Pre::V1_1(pre) => pre.instance_pre().component(),
            Pre::V2_0(pre) => pre.instance_pre().component(),
        }
    }

    /// A store for one operation: its limits, and its CPU deadline.
    fn new_store(&self, panel: &Arc<PanelContext>, operation: &'static str) -> Store<HostState> {
        let mut store = Store::new(
            self.component().engine(),
            HostState::new(panel.clone(), operation),
        );
        store.limiter(|state| &mut state.limits);
        // Yield to the async runtime every epoch tick, and trap once the operation's
        // deadline has passed: one deadline covers guest CPU and partner calls alike.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                wasmtime::bail!("the operation's deadline passed while the adapter was running")
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// A bare instance, for an operation: [`dispatch_v2`] finds its one function.
    async fn instantiate(
        &self,
        panel: &Arc<PanelContext>,
        operation: &'static str,
    ) -> Result<(Store<HostState>, ComponentInstance)> {
        let mut store = self.new_store(panel, operation);
        let instance = match &self.pre {
            Pre::V1_0(pre) => pre.instance_pre().instantiate_async(&mut store).await?,
            Pre::V1_1(pre) => pre.instance_pre().instantiate_async(&mut store).await?,
            Pre::V2_0(pre) => pre.instance_pre().instantiate_async(&mut store).await?,
        };
        Ok((store, instance))
    }
}

impl WasmAdapter {
    /// Links the component for `panel` and asks it to describe itself. A component built on an
    /// engine the runtime has since renewed is carried over to the current one.
    pub async fn load(
        runtime: &Runtime,
        component: &Component,
        panel: Arc<PanelContext>,
        concurrency: usize,
    ) -> Result<WasmAdapter> {
        let generation = runtime.current();
        let component = generation.adopt(component)?;
        let (linked, wit) = Linked::new(&generation, &component, &panel.id)?;
        let mut adapter = WasmAdapter {
            runtime: runtime.clone(),
            linked: std::sync::RwLock::new(Arc::new(linked)),
            wit,
            panel,
            description: placeholder_description(),
            extensions: Default::default(),
            permits: Semaphore::new(concurrency.max(1)),
            waiting: Default::default(),
            health: Default::default(),
            quarantine_after: runtime.quarantine_after,
        };
        let limit = DESCRIBE_LIMIT;
        adapter.description = match tokio::time::timeout(limit, adapter.describe()).await {
            Ok(description) => {
                description.with_context(|| format!("panel `{}`: describe failed", adapter.panel.id))?
            }
            Err(_) => wasmtime::bail!(
                "panel `{}`: `describe` did not answer within {} ms, the most it may take",
                adapter.panel.id,
                limit.as_millis()
            ),
        };
        adapter.extensions =
            crate::extensions::ExtensionSchemas::compile(&adapter.description, wit.starts_with("2."))
                .map_err(|e| wasmtime::format_err!("panel `{}`: {e}", adapter.panel.id))?;
        Ok(adapter)
    }

    /// The component linked now.
    fn linked(&self) -> Arc<Linked> {
        self.linked.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Moves the adapter onto a renewed engine ([`Runtime::renew`]): its compiled code
    /// carried over, linked again. Calls already running finish where they are; the panel's
    /// slots, health and quarantine stay as they are.
    pub fn follow(&self, carrying: &Carrying) -> Result<()> {
        let old = self.linked();
        if Engine::same(old.component().engine(), &carrying.generation.engine) {
            return Ok(());
        }
        let component = carrying.carry(old.component())?;
        let (linked, _) = Linked::new(&carrying.generation, &component, &self.panel.id)?;
        *self.linked.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(linked);
        Ok(())
    }

    /// Runs `describe`, its answer converted up from a 1.x adapter's.
    async fn describe(&self) -> Result<Description> {
        let linked = self.linked();
        let mut store = linked.new_store(&self.panel, "describe");
        // Its CPU has the describe limit too, not the panel's operation timeout.
        store.data_mut().deadline = Instant::now() + DESCRIBE_LIMIT;
        Ok(match &linked.pre {
            Pre::V1_0(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                let old = instance
                    .panelgate_adapter_operations()
                    .call_describe(&mut store)
                    .await?;
                up(&old).map_err(wasmtime::Error::msg)?
            }
            Pre::V1_1(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                let old = instance
                    .panelgate_adapter_operations()
                    .call_describe(&mut store)
                    .await?;
                up(&old).map_err(wasmtime::Error::msg)?
            }
            Pre::V2_0(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                instance
                    .panelgate_adapter_operations()
                    .call_describe(&mut store)
                    .await?
            }
        })
    }

    async fn run_validate(&self, request: ValidationRequest) -> Result<Vec<FieldIssue>, CallError> {
        let linked = self.linked();
        let Some(index) = &linked.exports.validate else {
            return Err(CallError::Adapter(AdapterError::Unsupported(format!(
                "`validate` came in panelgate:adapter@1.1.0; this adapter is built against {}",
                self.wit
            ))));
        };
        let (mut store, instance) = linked
            .instantiate(&self.panel, "validate")
            .await
            .map_err(|e| CallError::Fault(format!("instantiating: {e:#}")))?;
        let result = if self.wit.starts_with("1.") {
            let request: v1::ValidationRequest = down(&request, self.wit).map_err(CallError::Adapter)?;
            match invoke::<_, Vec<v1::FieldIssue>, v1::AdapterError>(
                &mut store,
                &instance,
                index,
                (&request,),
            )
            .await
            {
                Ok(Ok(issues)) => up(&issues).map(Ok).map_err(wasmtime::Error::msg),
                Ok(Err(error)) => up(&error).map(Err).map_err(wasmtime::Error::msg),
                Err(trap) => Err(trap),
            }
        } else {
            invoke::<_, Vec<FieldIssue>, AdapterError>(&mut store, &instance, index, (&request,)).await
        };
        match result {
            Ok(Ok(issues)) => Ok(issues),
            Ok(Err(error)) => Err(CallError::Adapter(error)),
            Err(trap) => {
                tracing::warn!(panel = %self.panel.id, operation = "validate", "adapter fault: {trap:#}");
                Err(CallError::Fault(format!("{trap:#}")))
            }
        }
    }

    /// The panel context the adapter's capabilities use.
    pub fn context(&self) -> &Arc<PanelContext> {
        &self.panel
    }

    /// `name@version`, as the metrics and the API name the adapter.
    fn module_label(&self) -> String {
        format!("{}@{}", self.description.name, self.description.version)
    }

    /// The `panelgate:adapter` version the component targets.
    pub fn wit(&self) -> &'static str {
        self.wit
    }

    /// Runs `call` with `http.send` answered from `recording` instead of the partner: what
    /// the adapter returned and the requests it made.
    pub async fn replay(
        &self,
        call: Call,
        recording: Recording,
    ) -> (Result<Outcome, CallError>, Vec<Exchange>) {
        let timeout = self.panel.operation_timeout;
        match tokio::time::timeout(timeout, self.run(call, Some(recording), Default::default(), None)).await {
            Ok((result, store)) => (result, store.map(|s| s.into_data().exchanges).unwrap_or_default()),
            Err(_) => (Err(CallError::Deadline(timeout.as_millis() as u64)), Vec::new()),
        }
    }

    async fn run(
        &self,
        call: Call,
        replay: Option<Recording>,
        sending: std::sync::Arc<std::sync::atomic::AtomicBool>,
        idempotency_key: Option<String>,
    ) -> (Result<Outcome, CallError>, Option<Store<HostState>>) {
        let operation = operation_name(&call);
        let operation_of = call.operation();
        let linked = self.linked();
        let (mut store, instance) = match linked.instantiate(&self.panel, operation).await {
            Ok(pair) => pair,
            // Every pooled slot is in use, by this panel and the others: the host is full, the
            // adapter is not at fault.
            Err(e) if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() => {
                return (
                    Err(CallError::Overloaded(format!(
                        "every one of the host's instance slots is in use ({e})"
                    ))),
                    None,
                );
            }
            Err(e) => return (Err(CallError::Fault(format!("instantiating: {e:#}"))), None),
        };
        store.data_mut().replay = replay;
        store.data_mut().sending = sending;
        store.data_mut().idempotency_key = idempotency_key;
        let result = if self.wit.starts_with("1.") {
            dispatch_v1(&mut store, &instance, &linked.exports, call, self.wit).await
        } else {
            dispatch_v2(&mut store, &instance, &linked.exports, call).await
        };
        let result = match result {
            Ok(Ok(outcome)) => match crate::adapter::check_outcome(&outcome)
                .and_then(|()| self.extensions.check_output(operation_of, outcome.extensions()))
            {
                Ok(()) => Ok(outcome),
                Err(what) => Err(CallError::Fault(format!(
                    "the adapter returned a malformed result: {what}"
                ))),
            },
            Ok(Err(error)) => Err(CallError::Adapter(error)),
            Err(trap) if Instant::now() >= store.data().deadline => {
                tracing::warn!(panel = %self.panel.id, operation, "adapter stopped at its deadline: {trap:#}");
                Err(CallError::Deadline(
                    self.panel.operation_timeout.as_millis() as u64
                ))
            }
            Err(trap) => {
                // The whole text, the guest's backtrace with it, for the operator; the portal
                // gets its cause in one line (`adapter::fault_cause`), the journal all of it.
                tracing::warn!(panel = %self.panel.id, operation, "adapter fault: {trap:#}");
                Err(CallError::Fault(format!("{trap:#}")))
            }
        };
        (result, Some(store))
    }
}

impl WasmAdapter {
    /// A slot to run in: at once when one is free; otherwise a place in the panel's queue and
    /// a bounded wait, or `Overloaded` at once when the queue is full.
    async fn admit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, CallError> {
        use std::sync::atomic::Ordering;
        match self.permits.try_acquire() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(CallError::Fault("the panel is shutting down".into()));
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let admission = self.runtime.admission;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= admission.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(CallError::Overloaded(format!(
                "every slot is busy and {} operations are waiting already",
                admission.queue
            )));
        }
        let waited = tokio::time::timeout(admission.wait, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(CallError::Fault("the panel is shutting down".into())),
            Err(_) => Err(CallError::Overloaded(format!(
                "no slot came free within {} ms",
                admission.wait.as_millis()
            ))),
        }
    }
}

impl Adapter for WasmAdapter {
    fn description(&self) -> &Description {
        &self.description
    }

    fn extensions(&self) -> &crate::extensions::ExtensionSchemas {
        &self.extensions
    }

    fn validate(&self, request: ValidationRequest) -> BoxFuture<'_, Result<Vec<FieldIssue>, CallError>> {
        Box::pin(async move {
            let _permit = self.admit().await?;
            // A quarantined adapter runs nothing, validations included, until re-enabled.
            if let Some(reason) = self.quarantine() {
                return Err(CallError::Quarantined(reason));
            }
            let _in_use = self.runtime.metrics.in_use(&self.panel.id);
            let timeout = self.panel.operation_timeout;
            tokio::time::timeout(timeout, self.run_validate(request))
                .await
                .unwrap_or(Err(CallError::Deadline(timeout.as_millis() as u64)))
        })
    }

    fn call<'a>(
        &'a self,
        call: Call,
        journal_id: &'a str,
        idempotency_key: Option<String>,
    ) -> BoxFuture<'a, (Result<Outcome, CallError>, CallRecord)> {
        Box::pin(async move {
            let _permit = match self.admit().await {
                Ok(permit) => permit,
                Err(e) => return (Err(e), CallRecord::default()),
            };
            if let Some(reason) = self.quarantine() {
                return (Err(CallError::Quarantined(reason)), CallRecord::default());
            }
            let metrics = &self.runtime.metrics;
            let _in_use = metrics.in_use(&self.panel.id);
            let timeout = self.panel.operation_timeout;
            // The epoch deadline and the partner timeouts end the call at `timeout`, keeping
            // what it did; this outer limit is the backstop should both miss it.
            let labels = crate::metrics::OperationLabels {
                panel: self.panel.id.clone(),
                operation: crate::store::enum_str(&call.operation()),
                adapter: self.module_label(),
            };
            // A document's bytes are not kept: a request without one checks the adapter as well.
            let sample = (!matches!(call, Call::UploadDocument(_)) && self.panel.known_good.wants())
                .then(|| call.clone());
            let input_bytes = input_bytes(&call);
            let started = Instant::now();
            let sending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let run = self.run(call, None, sending.clone(), idempotency_key);
            let (result, record, hit) = match tokio::time::timeout(timeout + BACKSTOP, run).await {
                Ok((result, store)) => {
                    let mut record = CallRecord::default();
                    let mut hit = Default::default();
                    if let Some(store) = store {
                        store.data().flush_output(journal_id);
                        hit = store.data().limits_hit();
                        record.exchanges = store.into_data().exchanges;
                    }
                    (result, record, hit)
                }
                Err(_) => (
                    Err(CallError::Deadline(timeout.as_millis() as u64)),
                    CallRecord {
                        // Cut off with its state: a request may have been out.
                        unrecorded_request: sending.load(std::sync::atomic::Ordering::SeqCst),
                        ..CallRecord::default()
                    },
                    Default::default(),
                ),
            };
            let elapsed = started.elapsed();
            if let (Some(call), Ok(_)) = (sample, &result) {
                self.panel.known_good.keep(call, record.exchanges.clone());
            }
            let memory_is_the_callers = hit.memory && input_bytes > self.panel.memory_bytes / 8;
            if let Some(reason) = self.count(&result, &record, memory_is_the_callers) {
                self.check_before_quarantine(reason).await;
            }
            metrics.adapter_call(&labels, elapsed);
            metrics.call(&self.panel.id, &labels.adapter, &result, &record, hit);
            (result, record)
        })
    }

    fn quarantine(&self) -> Option<String> {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .quarantined
            .clone()
    }

    fn release(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.quarantined = None;
        health.faults = 0;
    }

    fn follow(&self, carrying: &Carrying) -> Result<(), String> {
        WasmAdapter::follow(self, carrying).map_err(|e| format!("{e:#}"))
    }
}

/// How far past the operation's deadline the outer timeout waits for the inner ones.
const BACKSTOP: std::time::Duration = std::time::Duration::from_millis(250);

/// The longest `describe` may take, instantiation included. Its answer is a constant record,
/// which every shipped adapter gives in milliseconds (an interpreted Python or JavaScript one
/// takes longest); a push, the watched folder, a switch or rollback (holding the deploy lock)
/// and the host's start all wait on it. Not the panel's operation timeout: a panel given a
/// short one for its partner calls must not have its adapter refused on a loaded machine.
/// The epoch deadline stops a guest's CPU, not a wait inside a host call (a WASI sleep), so a
/// timer bounds the whole call.
const DESCRIBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Consecutive faults of the adapter, and the reason it was quarantined.
#[derive(Default)]
struct Health {
    faults: u32,
    last: String,
    quarantined: Option<String>,
}

impl WasmAdapter {
    /// Counts the adapter's faults in a row: a trap, a malformed result, or its CPU time
    /// running out (a deadline with no partner timeout in the call). Any other outcome,
    /// success or a typed error, proves the adapter works and resets the count. Running out
    /// of memory on an input larger than an eighth of the memory is the caller's doing and
    /// counts for nothing. At `quarantine_after` faults, the reason to check with
    /// [`check_before_quarantine`](Self::check_before_quarantine).
    fn count(
        &self,
        result: &Result<Outcome, CallError>,
        record: &CallRecord,
        memory_is_the_callers: bool,
    ) -> Option<String> {
        let fault = match result {
            Err(CallError::Fault(_)) if memory_is_the_callers => return None,
            // The cause without the backtrace: the reason is shown on `/v1/panels` and in the
            // portal's `adapter_quarantined` answers.
            Err(CallError::Fault(reason)) => Some(crate::adapter::fault_cause(reason)),
            Err(CallError::Deadline(ms))
                if !record
                    .exchanges
                    .iter()
                    .any(|e| e.error_kind.as_deref() == Some("timeout")) =>
            {
                Some(format!("ran past its {ms} ms deadline"))
            }
            Err(CallError::Deadline(_)) | Err(CallError::Quarantined(_)) | Err(CallError::Overloaded(_)) => {
                return None;
            }
            _ => None,
        };
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let Some(reason) = fault else {
            health.faults = 0;
            return None;
        };
        health.faults += 1;
        health.last = reason;
        if self.quarantine_after == 0 || health.faults < self.quarantine_after || health.quarantined.is_some()
        {
            return None;
        }
        let reason = format!("{} faults in a row, the last: {}", health.faults, health.last);
        // Counting starts again: concurrent faults do not each run the check.
        health.faults = 0;
        Some(reason)
    }

    /// Quarantines the adapter only if its faults are its own: it must also fault on the
    /// panel's last good request, replayed with the partner answers it got then (no partner
    /// is called). Faults on inputs a caller chose, and that the adapter does not repeat on
    /// an ordinary request, leave the panel serving everyone else: no caller, portal or
    /// callback source, can quarantine a panel by sending what makes it fault. A panel that
    /// has served no request yet has nothing to check against and is not quarantined; each
    /// fault is still answered, journaled and counted in `panelgate_adapter_faults`.
    async fn check_before_quarantine(&self, reason: String) {
        let id = &self.panel.id;
        let Some(good) = self.panel.known_good.get() else {
            tracing::warn!(panel = %id, "{reason}; not quarantined: the panel has served no request to check the adapter against");
            return;
        };
        let recording = Recording::new(good.exchanges.clone());
        let (checked, _) = self.replay(good.call.clone(), recording).await;
        let fault = match checked {
            Ok(_) | Err(CallError::Adapter(_)) => {
                tracing::warn!(panel = %id, "{reason}; not quarantined: the adapter still serves the panel's last good request, so the faults are its inputs'");
                return;
            }
            // In one line: the reason is shown to every caller the quarantine refuses.
            Err(CallError::Fault(cause)) => format!("adapter fault: {}", crate::adapter::fault_cause(&cause)),
            Err(e) => e.to_string(),
        };
        let reason = format!(
            "{reason}; it also fails the panel's last good request ({fault}); re-enable with `panelgate panel enable {id}` or deploy another version"
        );
        tracing::error!(panel = %id, adapter = %self.description.name, version = %self.description.version, "adapter quarantined: {reason}");
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.quarantined.is_none() {
            health.quarantined = Some(reason);
        }
    }
}

/// The bytes of `call`'s input that are not bounded by the portal's limits before the adapter
/// runs: a document's and a callback's body. Other inputs are at most
/// [`PanelContext::max_json_input`].
fn input_bytes(call: &Call) -> usize {
    match call {
        Call::UploadDocument(document) => document.data.len(),
        Call::HandleCallback(callback) => callback_body_bytes(&callback.body),
        _ => 0,
    }
}

fn operation_name(call: &Call) -> &'static str {
    call.operation().wit_name()
}

fn placeholder_description() -> Description {
    Description {
        name: String::new(),
        version: String::new(),
        spec: String::new(),
        operations: Vec::new(),
        config_keys: Vec::new(),
        credentials: Vec::new(),
        callbacks: Vec::new(),
        lookups: Vec::new(),
        extensions: Vec::new(),
    }
}

fn callback_body_bytes(body: &crate::model::CallbackBody) -> usize {
    use crate::model::CallbackBody;
    match body {
        CallbackBody::Empty => 0,
        CallbackBody::Bytes(bytes) => bytes.len(),
        CallbackBody::Form(parts) => parts.iter().map(|p| p.name.len() + p.data.len()).sum(),
    }
}
