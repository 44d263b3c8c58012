//! Memory given back after a burst: the engine renewed once its instance pool sits idle.
//!
//! wasmtime's pooling allocator keeps every slot a burst used warm: a fiber stack's top 64 KiB,
//! the pages of a linear memory the instance wrote (up to 128 KiB) and its tables, resident for
//! good, with no call that gives them back (BENCHMARKS.md: 4,096 stacks alone held 256 MiB
//! after 5,000 slow connections). The host therefore watches the pool; once its idle slots hold
//! more than [`RENEW_AT`] and the calls in flight have stayed a small share of them for
//! [`QUIET_FOR`], it builds a new engine with an empty pool and moves every adapter onto it
//! ([`AppState::renew_engine`]). Calls already running finish on the old engine, which is
//! dropped, its pool unmapped, when the last of them ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::AppState;

/// The idle slots' resident bytes past which the pool is worth renewing: about 500 slots' worth,
/// far more than a host at a steady load keeps warm (wasmtime reuses warm slots first once it
/// holds 100 of them).
pub const RENEW_AT: usize = 64 << 20;

/// How long the burst must have been over: the calls in flight at most an eighth of the idle
/// warm slots at every check.
pub const QUIET_FOR: Duration = Duration::from_secs(3);

/// How often the pool is looked at.
const EVERY: Duration = Duration::from_secs(1);

/// What the pool looks like at one check.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    /// Component instances running now.
    pub in_flight: u64,
    /// Stacks a call used and left (the largest of the pool's idle slot counts).
    pub idle_slots: u32,
    /// What the idle slots keep resident: memories, tables and stacks.
    pub idle_bytes: usize,
}

impl PoolState {
    /// The current engine's pool, if it is pooled.
    pub fn of(engine: &wasmtime::Engine) -> Option<PoolState> {
        let pool = engine.pooling_allocator_metrics()?;
        Some(PoolState {
            in_flight: pool.component_instances(),
            idle_slots: pool.unused_warm_stacks().max(pool.unused_warm_memories()),
            idle_bytes: pool.unused_memory_bytes_resident()
                + pool.unused_table_bytes_resident()
                + pool.unused_stack_bytes_resident().unwrap_or(0),
        })
    }

    /// A pool that holds much idle and runs little: the burst that warmed it is over.
    fn after_a_burst(&self) -> bool {
        self.idle_bytes >= RENEW_AT && self.in_flight <= u64::from(self.idle_slots / 8)
    }
}

/// When to renew, from the checks as they come: after [`QUIET_FOR`] of pools that are each
/// [`PoolState::after_a_burst`]; any other check starts the wait over.
#[derive(Debug, Default)]
pub struct Policy {
    quiet_since: Option<Instant>,
}

impl Policy {
    pub fn renew_now(&mut self, pool: &PoolState, now: Instant) -> bool {
        if !pool.after_a_burst() {
            self.quiet_since = None;
            return false;
        }
        let since = *self.quiet_since.get_or_insert(now);
        if now.duration_since(since) >= QUIET_FOR {
            self.quiet_since = None;
            return true;
        }
        false
    }
}

/// What a renewal did, for the log.
#[derive(Debug)]
pub struct Renewed {
    pub panels: usize,
    pub modules: usize,
    pub took: Duration,
}

impl AppState {
    /// Builds a new engine with an empty instance pool and moves every panel's adapter and
    /// every registered module's compiled code onto it; no compiling, and no request waits or
    /// fails. Deploys wait meanwhile, so none links a component to the engine being left. A
    /// panel whose adapter could not move stays on the old engine, which it keeps alive.
    pub async fn renew_engine(self: &Arc<Self>) -> anyhow::Result<Renewed> {
        let _turn = self.deploying.lock().await;
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let carrying = state.runtime.renew().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let panels = state.panels();
            for panel in &panels {
                if let Err(e) = panel.adapter.follow(&carrying) {
                    tracing::warn!(panel = %panel.id, "the adapter stays on the old engine: {e}");
                }
            }
            let modules = state.rehome_compiled(&carrying);
            state.runtime.metrics.engine_renewed();
            Ok(Renewed {
                panels: panels.len(),
                modules,
                took: started.elapsed(),
            })
        })
        .await?
    }

    /// Renews the engine whenever the pool sits idle after a burst ([`Policy`]), for as long as
    /// the state lives.
    pub fn spawn_engine_renewal(self: &Arc<Self>) {
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut policy = Policy::default();
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { return };
                let Some(pool) = PoolState::of(&state.runtime.engine()) else {
                    return;
                };
                if !policy.renew_now(&pool, Instant::now()) {
                    continue;
                }
                match state.renew_engine().await {
                    Ok(renewed) => tracing::info!(
                        panels = renewed.panels,
                        modules = renewed.modules,
                        took_ms = renewed.took.as_millis() as u64,
                        "renewed the engine: the instance pool's {} idle slots held {} MiB",
                        pool.idle_slots,
                        pool.idle_bytes >> 20,
                    ),
                    Err(e) => tracing::warn!("renewing the engine: {e:#}"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BURST_OVER: PoolState = PoolState {
        in_flight: 3,
        idle_slots: 1000,
        idle_bytes: 120 << 20,
    };

    #[test]
    fn a_pool_idle_after_a_burst_is_renewed_once_it_stayed_so() {
        let mut policy = Policy::default();
        let start = Instant::now();
        assert!(!policy.renew_now(&BURST_OVER, start));
        assert!(!policy.renew_now(&BURST_OVER, start + Duration::from_secs(2)));
        assert!(policy.renew_now(&BURST_OVER, start + QUIET_FOR));
        // The wait starts over after a renewal.
        assert!(!policy.renew_now(&BURST_OVER, start + QUIET_FOR + Duration::from_secs(1)));
    }

    #[test]
    fn load_or_little_idle_memory_starts_the_wait_over() {
        let mut policy = Policy::default();
        let start = Instant::now();
        let busy = PoolState {
            in_flight: 400,
            ..BURST_OVER
        };
        let small = PoolState {
            idle_bytes: RENEW_AT - 1,
            ..BURST_OVER
        };
        assert!(!policy.renew_now(&BURST_OVER, start));
        assert!(!policy.renew_now(&busy, start + Duration::from_secs(2)));
        assert!(!policy.renew_now(&BURST_OVER, start + QUIET_FOR));
        assert!(!policy.renew_now(&small, start + QUIET_FOR + Duration::from_secs(1)));
        assert!(!policy.renew_now(&small, start + 3 * QUIET_FOR));
        assert!(!policy.renew_now(&BURST_OVER, start + 4 * QUIET_FOR));
        assert!(policy.renew_now(&BURST_OVER, start + 5 * QUIET_FOR));
    }
}
