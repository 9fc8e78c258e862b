//! Fault injection: 5xx and unannounced 429 answers, latency, dropped connections and lost
//! create answers.
//!
//! Clients must survive flaky networks and proxies; these faults let tests prove it. Random
//! faults come from a seeded RNG that draws the same number of values for every request, so a
//! sequential test sees the same faults on every run. Scripted faults (`script`) hit the next
//! matching requests exactly, for tests that need one precise failure.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The kinds of fault the server can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// HTTP 500.
    Error500,
    /// HTTP 502.
    Error502,
    /// HTTP 503 with `Retry-After`.
    Error503,
    /// HTTP 429 with `Retry-After` but no rate-limit headers: throttling the client could not
    /// see coming (a proxy, or another job sharing the token drained the budget). Scripted
    /// only, so that random fault sequences stay as they were.
    Error429,
    /// The connection is closed without an answer, before the request is handled.
    Drop,
    /// Create only: the integration is created, then the connection is closed without an answer.
    LoseCreate,
    /// Latency spike (`spikeMs`) before handling.
    Spike,
}

impl FaultKind {
    /// The name used in statistics.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Error500 => "error500",
            FaultKind::Error502 => "error502",
            FaultKind::Error503 => "error503",
            FaultKind::Error429 => "error429",
            FaultKind::Drop => "drop",
            FaultKind::LoseCreate => "loseCreate",
            FaultKind::Spike => "spike",
        }
    }
}

/// One scripted fault: applies to the next request whose route matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptedFault {
    /// What to inject.
    pub kind: FaultKind,
    /// `"METHOD /route/template"` as in the stats (e.g. `"POST /rest/gitplugin/1.0/integration"`);
    /// `None` matches any request (a `loseCreate` only ever matches a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// Fault settings; every rate is a probability per request in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// RNG seed; the same seed and request sequence give the same faults.
    pub seed: u64,
    /// Share of requests answered 500, 502 or 503 (chosen evenly).
    pub error_rate: f64,
    /// Real milliseconds added to every request.
    pub latency_ms: u64,
    /// Share of requests that get `spike_ms` extra latency.
    pub spike_rate: f64,
    /// Real milliseconds of a latency spike.
    pub spike_ms: u64,
    /// Share of requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Share of creates applied whose answer is then lost.
    pub lose_create_rate: f64,
    /// `Retry-After` of injected 503s, in virtual milliseconds.
    pub retry_after_ms: u64,
    /// Faults for the next matching requests, consumed in order before random faults.
    pub script: Vec<ScriptedFault>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            error_rate: 0.0,
            latency_ms: 0,
            spike_rate: 0.0,
            spike_ms: 0,
            drop_rate: 0.0,
            lose_create_rate: 0.0,
            retry_after_ms: 1000,
            script: Vec::new(),
        }
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// Real delay before handling.
    pub delay: Duration,
    /// Whether the delay includes a spike (for statistics).
    pub spiked: bool,
    /// The fault that replaces or follows the answer, if any.
    pub action: Option<FaultKind>,
}

/// Fault settings plus the RNG they drive.
#[derive(Debug)]
pub struct FaultState {
    /// Current settings (the script shrinks as it is consumed).
    pub config: FaultConfig,
    rng: StdRng,
}

impl FaultState {
    /// Seeds the RNG from `config.seed`.
    pub fn new(config: FaultConfig) -> FaultState {
        let rng = StdRng::seed_from_u64(config.seed);
        FaultState { config, rng }
    }

    /// Decides the faults of one request to `route` (`"METHOD /template"`).
    pub fn decide(&mut self, route: &str, is_create: bool) -> FaultPlan {
        // Always draw the same count so the sequence does not depend on the settings.
        let spike_draw: f64 = self.rng.random();
        let error_draw: f64 = self.rng.random();
        let error_pick: u32 = self.rng.random_range(0..3);
        let drop_draw: f64 = self.rng.random();
        let lose_draw: f64 = self.rng.random();
        let c = &self.config;
        let mut plan = FaultPlan {
            delay: Duration::from_millis(c.latency_ms),
            ..FaultPlan::default()
        };
        let scripted = c.script.iter().position(|s| {
            s.route.as_deref().is_none_or(|r| r == route)
                && (s.kind != FaultKind::LoseCreate || is_create)
        });
        if let Some(pos) = scripted {
            let s = self.config.script.remove(pos);
            if s.kind == FaultKind::Spike {
                plan.delay += Duration::from_millis(self.config.spike_ms);
                plan.spiked = true;
            } else {
                plan.action = Some(s.kind);
            }
            return plan;
        }
        if spike_draw < c.spike_rate {
            plan.delay += Duration::from_millis(c.spike_ms);
            plan.spiked = true;
        }
        plan.action = if drop_draw < c.drop_rate {
            Some(FaultKind::Drop)
        } else if error_draw < c.error_rate {
            Some(match error_pick {
                0 => FaultKind::Error500,
                1 => FaultKind::Error502,
                _ => FaultKind::Error503,
            })
        } else if is_create && lose_draw < c.lose_create_rate {
            Some(FaultKind::LoseCreate)
        } else {
            None
        };
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let cfg = FaultConfig {
            seed: 7,
            error_rate: 0.5,
            ..FaultConfig::default()
        };
        let run = || {
            let mut f = FaultState::new(cfg.clone());
            (0..50)
                .map(|_| f.decide("GET /x", false).action)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let errors = a.iter().filter(|x| x.is_some()).count();
        assert!((10..40).contains(&errors), "{errors}");
    }

    #[test]
    fn script_hits_matching_route_first() {
        let mut f = FaultState::new(FaultConfig {
            script: vec![ScriptedFault {
                kind: FaultKind::LoseCreate,
                route: None,
            }],
            ..FaultConfig::default()
        });
        assert_eq!(f.decide("GET /x", false).action, None);
        assert_eq!(
            f.decide("POST /y", true).action,
            Some(FaultKind::LoseCreate)
        );
        assert_eq!(f.decide("POST /y", true).action, None);
    }
}
