//! The overall time left in an apply's indexing phase.
//!
//! Per-integration progress bars answer "how far is this one?", but on a large apply people
//! need "when will all of it be done?" (the most asked-for missing piece of Terraform's and
//! Argo CD's progress output). The answer reuses the plan's model instead of inventing one:
//!
//! 1. **Estimates**: each indexing step starts with the plan's `estimated_indexing_secs`
//!    (computed from repository sizes in `crate::plan`; unknown sizes fall back to
//!    [`SECS_PER_REPOSITORY`]), and each integration already indexing on the site with the
//!    plan's `remaining_secs` for it.
//! 2. **Calibration**: the plan's estimates can be wrong by a constant factor (a faster or
//!    slower site). The factor is observed: the seconds actually spent divided by the estimated
//!    seconds of the work done, summed over the integrations that finished successfully and
//!    those in flight that report at least [`MIN_PERCENT_TO_CALIBRATE`] (an integration at 50%
//!    of a 100 s estimate after 100 s counts as 100 s spent for 50 s of estimated work). With
//!    nothing observed yet the factor is 1: the plan's estimate as is.
//! 3. **What is left** of each integration, in calibrated seconds: an integration in flight at
//!    `p`% has `estimate × factor × (1 − p/100)` left (60% of a 100 s estimate: ~40 s); one
//!    still queued has `estimate × factor`; one already indexing on the site has its remaining
//!    estimate × factor minus the time since apply started (never below 0).
//! 4. **Slots**: apply's gate is a FIFO sliding window of N slots, so the same list-scheduling
//!    the plan uses gives the answer: those in flight occupy slots first, then each queued step,
//!    in order, takes the slot that frees up first; the time left is when the last slot frees.
//!
//! It covers the indexing phase only: settings changes and deletions are single requests,
//! seconds at most, next to indexing measured in minutes or hours.

use super::events::Event;
pub use crate::plan::order::SECS_PER_REPOSITORY;

/// In-flight integrations below this progress do not calibrate the estimate yet: the first
/// percents include discovery and enabling, and would make a single early reading swing it.
pub const MIN_PERCENT_TO_CALIBRATE: f64 = 10.0;

/// Where one indexing step is, as the estimator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// Waiting for a slot.
    Queued,
    /// Holding a slot: progress 0–100 and seconds since it started.
    Running {
        /// Progress, 0–100.
        percent: f64,
        /// Seconds since the step started.
        elapsed_secs: f64,
    },
    /// Finished after `secs`; only a success says how fast indexing really is.
    Finished {
        /// Seconds the step took.
        secs: f64,
        /// Whether it succeeded (failures and timeouts do not calibrate).
        succeeded: bool,
    },
}

/// One indexing step: the plan's estimate and where it is now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Item {
    /// The plan's estimated initial-indexing seconds.
    pub estimate_secs: f64,
    /// Where it is.
    pub progress: Progress,
}

/// Everything the estimate depends on, so it can be a pure function.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Indexing slots (`max-parallel-indexing`).
    pub slots: usize,
    /// Estimated remaining seconds, when apply started, of each integration that was already
    /// indexing on the site (each holds a slot).
    pub busy_secs: Vec<f64>,
    /// Seconds since apply started (how much of `busy_secs` has passed).
    pub since_start_secs: f64,
    /// The indexing steps, in the order apply runs them (FIFO).
    pub items: Vec<Item>,
}

/// The factor by which observed indexing is slower (> 1) or faster (< 1) than the plan's
/// estimates: seconds spent over estimated seconds of work done, from successful finished
/// steps and in-flight steps past [`MIN_PERCENT_TO_CALIBRATE`]; 1 with nothing observed.
pub fn calibration(items: &[Item]) -> f64 {
    let (mut spent, mut estimated) = (0.0, 0.0);
    for i in items {
        match i.progress {
            Progress::Finished {
                secs,
                succeeded: true,
            } => {
                spent += secs;
                estimated += i.estimate_secs;
            }
            Progress::Running {
                percent,
                elapsed_secs,
            } if percent >= MIN_PERCENT_TO_CALIBRATE => {
                spent += elapsed_secs;
                estimated += i.estimate_secs * percent.min(100.0) / 100.0;
            }
            _ => {}
        }
    }
    if spent > 0.0 && estimated > 0.0 {
        spent / estimated
    } else {
        1.0
    }
}

/// Seconds until the last indexing step finishes (see the module comment for the model).
pub fn remaining_secs(s: &Snapshot) -> f64 {
    let factor = calibration(&s.items);
    let mut free_at = vec![0.0f64; s.slots.max(1)];
    let mut place = |secs: f64| {
        let mut best = 0;
        for (i, t) in free_at.iter().enumerate() {
            if *t < free_at[best] {
                best = i;
            }
        }
        free_at[best] += secs.max(0.0);
    };
    for b in &s.busy_secs {
        place(b * factor - s.since_start_secs);
    }
    for i in &s.items {
        if let Progress::Running { percent, .. } = i.progress {
            place(i.estimate_secs * factor * (1.0 - percent.clamp(0.0, 100.0) / 100.0));
        }
    }
    for i in s.items.iter().filter(|i| i.progress == Progress::Queued) {
        place(i.estimate_secs * factor);
    }
    free_at.into_iter().fold(0.0, f64::max)
}

/// What a tracked step is doing; `Dropped` steps were skipped and will never run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Queued,
    Running { started: f64, percent: f64 },
    Finished { secs: f64, succeeded: bool },
    Dropped,
}

#[derive(Debug, Clone)]
struct Tracked {
    step: u32,
    estimate_secs: f64,
    state: State,
}

/// Follows the apply's events and keeps the [`Snapshot`] current. Times are seconds on the
/// caller's clock (the reporter passes its elapsed time), so tests drive it without sleeping.
#[derive(Debug, Clone)]
pub struct Tracker {
    slots: usize,
    busy_secs: Vec<f64>,
    items: Vec<Tracked>,
}

impl Tracker {
    /// A tracker for `steps` (plan step number and estimated seconds, in the order apply runs
    /// its indexing steps) through `slots` slots, with `busy_secs` already taken.
    pub fn new(
        slots: usize,
        busy_secs: Vec<f64>,
        steps: impl IntoIterator<Item = (u32, f64)>,
    ) -> Tracker {
        Tracker {
            slots,
            busy_secs,
            items: steps
                .into_iter()
                .map(|(step, estimate_secs)| Tracked {
                    step,
                    estimate_secs,
                    state: State::Queued,
                })
                .collect(),
        }
    }

    /// Updates the tracked state from one event observed at `now`. Only indexing steps are
    /// tracked: an [`Event::ActionStart`] with `indexing` set starts the first queued step of
    /// its plan step, [`Event::Indexing`] moves its progress, [`Event::ActionDone`] finishes it,
    /// or, with outcome `skipped`, drops a step that never started.
    pub fn observe(&mut self, event: &Event, now: f64) {
        match event {
            Event::ActionStart {
                step,
                indexing: true,
                ..
            } => {
                if let Some(t) = self.find(*step, |s| matches!(s, State::Queued)) {
                    t.state = State::Running {
                        started: now,
                        percent: 0.0,
                    };
                }
            }
            Event::Indexing { step, percent, .. } => {
                if let Some(t) = self.find(*step, |s| matches!(s, State::Running { .. }))
                    && let State::Running { started, .. } = t.state
                {
                    t.state = State::Running {
                        started,
                        percent: *percent,
                    };
                }
            }
            Event::ActionDone { step, outcome, .. } => {
                if let Some(t) = self.find(*step, |s| matches!(s, State::Running { .. }))
                    && let State::Running { started, .. } = t.state
                {
                    t.state = State::Finished {
                        secs: (now - started).max(0.0),
                        succeeded: outcome == "succeeded",
                    };
                } else if outcome == "skipped"
                    && let Some(t) = self.find(*step, |s| matches!(s, State::Queued))
                {
                    t.state = State::Dropped;
                }
            }
            _ => {}
        }
    }

    /// Whether `step` is one of the tracked indexing steps.
    pub fn tracks(&self, step: u32) -> bool {
        self.items.iter().any(|t| t.step == step)
    }

    /// (finished, total) indexing steps; skipped steps count in neither.
    pub fn counts(&self) -> (usize, usize) {
        let live = self.items.iter().filter(|t| t.state != State::Dropped);
        let total = live.clone().count();
        let finished = live
            .filter(|t| matches!(t.state, State::Finished { .. }))
            .count();
        (finished, total)
    }

    /// The estimator's input at `now`.
    pub fn snapshot(&self, now: f64) -> Snapshot {
        Snapshot {
            slots: self.slots,
            busy_secs: self.busy_secs.clone(),
            since_start_secs: now,
            items: self
                .items
                .iter()
                .filter_map(|t| {
                    let progress = match t.state {
                        State::Queued => Progress::Queued,
                        State::Running { started, percent } => Progress::Running {
                            percent,
                            elapsed_secs: (now - started).max(0.0),
                        },
                        State::Finished { secs, succeeded } => {
                            Progress::Finished { secs, succeeded }
                        }
                        State::Dropped => return None,
                    };
                    Some(Item {
                        estimate_secs: t.estimate_secs,
                        progress,
                    })
                })
                .collect(),
        }
    }

    /// Whole seconds left at `now`, rounded up: 0 only when nothing is left.
    pub fn eta_secs(&self, now: f64) -> u64 {
        remaining_secs(&self.snapshot(now)).ceil() as u64
    }

    fn find(&mut self, step: u32, want: impl Fn(&State) -> bool) -> Option<&mut Tracked> {
        self.items
            .iter_mut()
            .find(|t| t.step == step && want(&t.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(estimate_secs: f64) -> Item {
        Item {
            estimate_secs,
            progress: Progress::Queued,
        }
    }

    fn running(estimate_secs: f64, percent: f64, elapsed_secs: f64) -> Item {
        Item {
            estimate_secs,
            progress: Progress::Running {
                percent,
                elapsed_secs,
            },
        }
    }

    fn finished(estimate_secs: f64, secs: f64, succeeded: bool) -> Item {
        Item {
            estimate_secs,
            progress: Progress::Finished { secs, succeeded },
        }
    }

    fn snap(slots: usize, items: Vec<Item>) -> Snapshot {
        Snapshot {
            slots,
            busy_secs: vec![],
            since_start_secs: 0.0,
            items,
        }
    }

    #[test]
    fn queued_steps_are_list_scheduled_in_fifo_order() {
        // Slots A, B. 100 -> A (free at 100); 50 -> B (50); 30 -> B (80); 80 -> B (160).
        let s = snap(
            2,
            vec![queued(100.0), queued(50.0), queued(30.0), queued(80.0)],
        );
        assert_eq!(remaining_secs(&s), 160.0);
        // One slot: the sum. More slots than steps: the longest.
        assert_eq!(remaining_secs(&snap(1, s.items.clone())), 260.0);
        assert_eq!(remaining_secs(&snap(8, s.items.clone())), 100.0);
        // Zero slots is treated as one, as apply's gate does.
        assert_eq!(remaining_secs(&snap(0, s.items)), 260.0);
    }

    #[test]
    fn a_step_in_flight_has_the_rest_of_its_estimate_left() {
        // 60% of a 100 s estimate after 60 s: 60 s spent for 60 s of estimated work (factor 1),
        // so 40 s left.
        assert_eq!(
            remaining_secs(&snap(2, vec![running(100.0, 60.0, 60.0)])),
            40.0
        );
        // Slot A busy 40 s, then 50 -> B (50), 30 -> A (40 + 30 = 70).
        let s = snap(
            2,
            vec![running(100.0, 60.0, 60.0), queued(50.0), queued(30.0)],
        );
        assert_eq!(remaining_secs(&s), 70.0);
    }

    #[test]
    fn observed_speed_scales_everything_not_finished() {
        // Finished a 100 s estimate in 200 s: factor 2. Two queued 50 s on one slot: 200 s.
        let s = snap(
            1,
            vec![finished(100.0, 200.0, true), queued(50.0), queued(50.0)],
        );
        assert_eq!(calibration(&s.items), 2.0);
        assert_eq!(remaining_secs(&s), 200.0);
        // In flight: 50% of 100 s after 100 s spent is factor 2, so 100 s left (linear
        // extrapolation of its own progress).
        let s = snap(1, vec![running(100.0, 50.0, 100.0)]);
        assert_eq!(remaining_secs(&s), 100.0);
        // A site ten times faster than the plan thought: 1,000 s queued becomes 100 s.
        let s = snap(1, vec![finished(100.0, 10.0, true), queued(1000.0)]);
        assert_eq!(remaining_secs(&s), 100.0);
    }

    #[test]
    fn calibration_sums_over_observations_and_ignores_weak_ones() {
        // (200 + 100) s spent for (100 + 50) s of estimated work: factor 2.
        let items = [
            finished(100.0, 200.0, true),
            running(100.0, 50.0, 100.0),
            // Below 10%: too early to say anything.
            running(100.0, 5.0, 500.0),
            // Failures and timeouts say nothing about indexing speed.
            finished(100.0, 9000.0, false),
            queued(100.0),
        ];
        assert_eq!(calibration(&items), 2.0);
        assert_eq!(calibration(&[queued(10.0), running(10.0, 9.9, 99.0)]), 1.0);
        // A zero estimate that finished contributes no estimated work: no division by zero.
        assert_eq!(calibration(&[finished(0.0, 5.0, true)]), 1.0);
    }

    #[test]
    fn integrations_already_indexing_hold_slots_until_their_estimate_runs_out() {
        // One slot held 60 s by a site integration; 20 s later 40 s remain, then 30 s queued.
        let s = Snapshot {
            slots: 1,
            busy_secs: vec![60.0],
            since_start_secs: 20.0,
            items: vec![queued(30.0)],
        };
        assert_eq!(remaining_secs(&s), 70.0);
        // Past its estimate it no longer delays anything.
        let s = Snapshot {
            since_start_secs: 90.0,
            ..s
        };
        assert_eq!(remaining_secs(&s), 30.0);
    }

    #[test]
    fn nothing_left_is_zero() {
        assert_eq!(remaining_secs(&snap(2, vec![])), 0.0);
        let s = snap(
            2,
            vec![finished(100.0, 80.0, true), finished(50.0, 1.0, false)],
        );
        assert_eq!(remaining_secs(&s), 0.0);
        // At 100% nothing is left even before the done event.
        assert_eq!(
            remaining_secs(&snap(1, vec![running(100.0, 100.0, 90.0)])),
            0.0
        );
    }

    fn start(step: u32, indexing: bool) -> Event {
        Event::ActionStart {
            step,
            key: format!("k{step}"),
            what: "create".into(),
            indexing,
        }
    }

    fn progress(step: u32, percent: f64) -> Event {
        Event::Indexing {
            step,
            key: format!("k{step}"),
            id: 1,
            percent,
            state: "INDEXING".into(),
        }
    }

    fn done(step: u32, outcome: &str) -> Event {
        Event::ActionDone {
            step,
            key: format!("k{step}"),
            outcome: outcome.into(),
            message: None,
            id: None,
            secs: 0.0,
        }
    }

    #[test]
    fn the_tracker_follows_events_to_zero() {
        // Two slots, steps 3, 4, 5 of 100 s each.
        let mut t = Tracker::new(2, vec![], [(3, 100.0), (4, 100.0), (5, 100.0)]);
        assert_eq!(t.eta_secs(0.0), 200);
        // A settings step of plan step 3 (no indexing) is not the indexing step.
        t.observe(&start(3, false), 0.0);
        t.observe(&done(3, "succeeded"), 1.0);
        assert_eq!(t.counts(), (0, 3));
        t.observe(&start(3, true), 0.0);
        t.observe(&start(4, true), 0.0);
        // At 10 s, step 3 is at 20%: factor 10 / 20 = 0.5. Left: 3 -> 40, 4 -> 50, 5 -> 50
        // after 3 on its slot: 90 s.
        t.observe(&progress(3, 20.0), 10.0);
        assert_eq!(t.eta_secs(10.0), 90);
        t.observe(&done(3, "succeeded"), 50.0);
        t.observe(&start(5, true), 50.0);
        assert_eq!(t.counts(), (1, 3));
        t.observe(&done(4, "failed"), 60.0);
        t.observe(&done(5, "succeeded"), 100.0);
        assert_eq!(t.counts(), (3, 3));
        assert_eq!(t.eta_secs(100.0), 0);
    }

    #[test]
    fn skipped_steps_leave_the_estimate() {
        let mut t = Tracker::new(1, vec![], [(1, 100.0), (2, 100.0)]);
        t.observe(&done(2, "skipped"), 0.0);
        assert_eq!(t.counts(), (0, 1));
        assert_eq!(t.eta_secs(0.0), 100);
        assert!(t.tracks(2) && !t.tracks(9));
        // A failure of a step that never started (a settings step of the same plan step) does
        // not drop the indexing step; only `skipped` does.
        t.observe(&done(1, "failed"), 0.0);
        assert_eq!(t.counts(), (0, 1));
    }
}
