//! Apply progress: a versioned NDJSON event stream plus what a person watches.
//!
//! Every observable step of an apply is one [`Event`]. The [`Reporter`] fans each event out to
//! up to three sinks: an NDJSON file (`--events FILE`, for automation), progress bars on a TTY
//! (indicatif), or one plain line per event when stderr is not a terminal (CI logs). Keeping a
//! single event type means the three views can never disagree about what happened.
//!
//! When the apply has indexing steps, the reporter also follows them with an
//! [`eta::Tracker`](super::eta::Tracker) and every view shows the overall time left: the
//! `eta_secs` field of each NDJSON line, the overall bar's message, and a line each time an
//! integration finishes indexing. The stream is documented in `docs/events.md`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use super::eta::Tracker;
use crate::render::duration;

/// Version of the event stream format; bumped on incompatible changes.
pub const EVENTS_FORMAT_VERSION: u32 = 1;

/// One thing that happened during an apply.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Apply began.
    ApplyStart {
        /// Number of actions to run.
        actions: usize,
        /// Indexing slots.
        max_parallel_indexing: u32,
        /// Integrations already indexing on the site (they hold slots).
        already_indexing: Vec<u64>,
    },
    /// An action started.
    ActionStart {
        /// Plan step number.
        step: u32,
        /// Integration key.
        key: String,
        /// Short description.
        what: String,
        /// Whether the action starts initial indexing (takes a slot and reports progress).
        indexing: bool,
    },
    /// An action's integration is indexing.
    Indexing {
        /// Plan step number.
        step: u32,
        /// Integration key.
        key: String,
        /// Live id.
        id: u64,
        /// Progress, 0–100.
        percent: f64,
        /// GIJ's aggregate state.
        state: String,
    },
    /// An action finished.
    ActionDone {
        /// Plan step number.
        step: u32,
        /// Integration key.
        key: String,
        /// `succeeded`, `failed`, `timed_out` or `skipped`.
        outcome: String,
        /// Error message or skip reason.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Live id, once known.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// Seconds the action took.
        secs: f64,
    },
    /// apply is waiting (rate limit, a slot, an integration already indexing).
    Wait {
        /// Why.
        reason: String,
    },
    /// Apply ended.
    ApplyComplete {
        /// Actions that succeeded.
        succeeded: usize,
        /// Actions that failed.
        failed: usize,
        /// Actions not attempted.
        not_attempted: usize,
        /// Process exit code.
        exit_code: u8,
        /// API requests made.
        requests: u64,
        /// Wall time in seconds.
        secs: f64,
    },
}

#[derive(Serialize)]
struct Envelope<'a> {
    v: u32,
    ts_ms: u128,
    #[serde(flatten)]
    event: &'a Event,
    /// Estimated seconds until indexing is over; only when the apply has indexing steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    eta_secs: Option<u64>,
}

/// Where a person sees progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Progress bars on a terminal.
    Bars,
    /// One line per event on stderr.
    Lines,
    /// Nothing (quiet, or JSON on stdout).
    Silent,
}

/// Fans events out to the NDJSON file and the human display.
pub struct Reporter {
    display: Display,
    ndjson: Option<Mutex<Box<dyn Write + Send>>>,
    bars: Option<MultiProgress>,
    /// The whole-apply bar, made on [`Event::ApplyStart`]; set once through `&self` so one
    /// [`Reporter::emit`] serves the CLI and the worker tasks that share the reporter.
    overall: OnceLock<ProgressBar>,
    per_step: Mutex<BTreeMap<u32, ProgressBar>>,
    started: Instant,
    /// The overall estimate, when the apply has indexing steps. Held for a whole `emit`, so the
    /// `eta_secs` of successive NDJSON lines follow the order the lines are written in.
    eta: Mutex<Option<Tracker>>,
}

/// The overall progress of indexing at one moment, as the views show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Overall {
    finished: usize,
    total: usize,
    eta_secs: u64,
}

impl Reporter {
    /// Creates a reporter. `ndjson` receives one JSON object per line.
    pub fn new(display: Display, ndjson: Option<Box<dyn Write + Send>>) -> Reporter {
        let bars = (display == Display::Bars).then(MultiProgress::new);
        Reporter {
            display,
            ndjson: ndjson.map(Mutex::new),
            bars,
            overall: OnceLock::new(),
            per_step: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            eta: Mutex::new(None),
        }
    }

    /// Adds the overall estimate: `tracker` knows the apply's indexing steps in run order with
    /// the plan's estimates. Without indexing steps there is nothing to estimate; leave it out.
    pub fn with_eta(self, tracker: Tracker) -> Reporter {
        Reporter {
            eta: Mutex::new(Some(tracker)),
            ..self
        }
    }

    /// Time since the reporter was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records one event: the NDJSON line, then a bar update on a TTY or a plain line
    /// elsewhere. Takes `&self` so worker tasks holding an `Arc<Reporter>` report too.
    pub fn emit(&self, mut event: Event) {
        clean(&mut event);
        let mut eta = self.eta.lock().unwrap_or_else(|e| e.into_inner());
        let overall = eta.as_mut().map(|t| {
            let now = self.elapsed().as_secs_f64();
            t.observe(&event, now);
            let (finished, total) = t.counts();
            Overall {
                finished,
                total,
                // When apply ends nothing is left to wait for, whatever did not run.
                eta_secs: match event {
                    Event::ApplyComplete { .. } => 0,
                    _ => t.eta_secs(now),
                },
            }
        });
        // Lines show the estimate at start and whenever an integration finishes indexing:
        // often enough to follow, rare enough for a CI log.
        let milestone = match &event {
            Event::ApplyStart { .. } => true,
            Event::ActionDone { step, .. } => eta.as_ref().is_some_and(|t| t.tracks(*step)),
            _ => false,
        };
        self.write_ndjson(&event, overall.map(|o| o.eta_secs));
        match self.display {
            Display::Silent => {}
            Display::Lines => {
                anstream::eprintln!("{}", line(&event));
                if let (true, Some(o)) = (milestone, overall) {
                    anstream::eprintln!("{}", overall_line(o, &event));
                }
            }
            Display::Bars => self.draw(&event, overall),
        }
    }

    fn write_ndjson(&self, event: &Event, eta_secs: Option<u64>) {
        // `clean` masked the fields; this is the last line for anything added to an event later.
        if let Some(w) = &self.ndjson {
            let env = Envelope {
                v: EVENTS_FORMAT_VERSION,
                ts_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default(),
                event,
                eta_secs,
            };
            if let (Ok(mut w), Ok(json)) = (w.lock(), serde_json::to_string(&env)) {
                let _ = writeln!(w, "{}", crate::secret::redact(&json));
                let _ = w.flush();
            }
        }
    }

    fn draw(&self, event: &Event, overall: Option<Overall>) {
        let Some(mp) = &self.bars else { return };
        match event {
            Event::ApplyStart { actions, .. } => {
                // One apply, one overall bar: a repeated start leaves the first in place.
                self.overall.get_or_init(|| {
                    let pb = mp.add(ProgressBar::new(*actions as u64));
                    pb.set_style(
                        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    pb.set_prefix("apply");
                    pb
                });
            }
            Event::ActionStart {
                step, key, what, ..
            } => {
                let pb = mp.add(ProgressBar::new(100));
                pb.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>10} [{bar:30}] {pos:>3}% {msg} (eta {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                pb.set_prefix(format!("#{step}"));
                pb.set_message(format!("{key}: {what}"));
                if let Ok(mut m) = self.per_step.lock() {
                    m.insert(*step, pb);
                }
            }
            Event::Indexing {
                step,
                key,
                percent,
                state,
                ..
            } => {
                if let Ok(m) = self.per_step.lock()
                    && let Some(pb) = m.get(step)
                {
                    pb.set_position(percent.clamp(0.0, 100.0) as u64);
                    pb.set_message(format!("{key}: {}", state.to_ascii_lowercase()));
                }
            }
            Event::ActionDone {
                step,
                key,
                outcome,
                message,
                ..
            } => {
                if let Ok(mut m) = self.per_step.lock()
                    && let Some(pb) = m.remove(step)
                {
                    let msg = match message {
                        Some(msg) => format!("{key}: {outcome}: {msg}"),
                        None => format!("{key}: {outcome}"),
                    };
                    pb.finish_with_message(msg);
                }
                if let Some(o) = self.overall.get() {
                    o.inc(1);
                }
            }
            Event::Wait { reason } => {
                let _ = mp.println(format!("waiting: {reason}"));
            }
            Event::ApplyComplete { .. } => {
                if let Some(o) = self.overall.get() {
                    o.finish();
                }
                let _ = mp.println(line(event));
            }
        }
        if let (Some(bar), Some(o)) = (self.overall.get(), overall)
            && !matches!(event, Event::ApplyComplete { .. })
        {
            bar.set_message(format!(
                "indexing {}/{}, {}",
                o.finished,
                o.total,
                left(o.eta_secs)
            ));
        }
    }
}

/// "about 4m 10s left", or "nothing left".
fn left(eta_secs: u64) -> String {
    if eta_secs == 0 {
        "nothing left".into()
    } else {
        format!("about {} left", duration(eta_secs))
    }
}

/// The overall line of the plain display: the plan's estimate at start, then the count and
/// time left each time an integration finishes indexing.
fn overall_line(o: Overall, event: &Event) -> String {
    match event {
        Event::ApplyStart { .. } => format!(
            "indexing: {} integrations, {} (plan estimate)",
            o.total,
            left(o.eta_secs)
        ),
        _ => format!(
            "indexing: {}/{} finished, {}",
            o.finished,
            o.total,
            left(o.eta_secs)
        ),
    }
}

/// Masks every resolved credential in the free-text fields of an event (error messages, skip
/// and wait reasons, GIJ's state names: all may carry server text) and escapes their control and
/// bidi characters, once, before the event reaches NDJSON, bars or lines. Keys and `what` come
/// from gij.toml and the plan, which the loader already refuses control characters in.
fn clean(event: &mut Event) {
    let fix = |s: &mut String| {
        let c = crate::escape::shown(&crate::secret::redact(s)).into_owned();
        *s = c;
    };
    match event {
        Event::Indexing { state, .. } => fix(state),
        Event::ActionDone {
            message: Some(m), ..
        } => fix(m),
        Event::Wait { reason } => fix(reason),
        _ => {}
    }
}

/// The one-line rendering of an event, for CI logs.
pub fn line(event: &Event) -> String {
    match event {
        Event::ApplyStart {
            actions,
            max_parallel_indexing,
            already_indexing,
        } => {
            let mut s = format!(
                "apply: {actions} actions, at most {max_parallel_indexing} integrations indexing at once"
            );
            if !already_indexing.is_empty() {
                s.push_str(&format!(
                    ", {} already indexing on the site",
                    already_indexing.len()
                ));
            }
            s
        }
        Event::ActionStart {
            step, key, what, ..
        } => format!("#{step} {key}: {what}"),
        Event::Indexing {
            step,
            key,
            id,
            percent,
            state,
        } => {
            format!(
                "#{step} {key} (id {id}): {} {percent:.0}%",
                state.to_ascii_lowercase()
            )
        }
        Event::ActionDone {
            step,
            key,
            outcome,
            message,
            secs,
            ..
        } => match message {
            Some(m) => format!("#{step} {key}: {outcome} after {secs:.1}s: {m}"),
            None => format!("#{step} {key}: {outcome} after {secs:.1}s"),
        },
        Event::Wait { reason } => format!("waiting: {reason}"),
        Event::ApplyComplete {
            succeeded,
            failed,
            not_attempted,
            requests,
            secs,
            ..
        } => format!(
            "apply complete: {succeeded} succeeded, {failed} failed, {not_attempted} not attempted; {requests} API requests in {secs:.1}s"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An NDJSON sink the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn start(actions: usize) -> Event {
        Event::ApplyStart {
            actions,
            max_parallel_indexing: 2,
            already_indexing: vec![],
        }
    }

    fn done(step: u32) -> Event {
        Event::ActionDone {
            step,
            key: format!("k{step}"),
            outcome: "succeeded".into(),
            message: None,
            id: None,
            secs: 0.0,
        }
    }

    #[test]
    fn one_emit_through_a_shared_reporter_drives_the_overall_bar() {
        let sink = Sink::default();
        let rep = Arc::new(Reporter::new(Display::Bars, Some(Box::new(sink.clone()))));
        let worker = Arc::clone(&rep);
        rep.emit(start(3));
        // A second start does not replace the bar (and its count).
        worker.emit(done(1));
        rep.emit(start(9));
        worker.emit(done(2));
        let overall = rep.overall.get().expect("ApplyStart made the overall bar");
        assert_eq!((overall.position(), overall.length()), (2, Some(3)));
        rep.emit(Event::ApplyComplete {
            succeeded: 2,
            failed: 0,
            not_attempted: 1,
            exit_code: 4,
            requests: 5,
            secs: 1.0,
        });
        assert!(overall.is_finished());
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let types: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
            .collect();
        assert_eq!(
            types,
            [
                "\"apply_start\"",
                "\"action_done\"",
                "\"apply_start\"",
                "\"action_done\"",
                "\"apply_complete\""
            ]
        );
    }

    fn ndjson(sink: &Sink) -> Vec<serde_json::Value> {
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn with_indexing_steps_every_line_carries_the_time_left() {
        let sink = Sink::default();
        let tracker = Tracker::new(1, vec![], [(1, 100.0), (2, 50.0)]);
        let rep = Reporter::new(Display::Silent, Some(Box::new(sink.clone()))).with_eta(tracker);
        rep.emit(start(2));
        rep.emit(Event::ActionStart {
            step: 1,
            key: "k1".into(),
            what: "create".into(),
            indexing: true,
        });
        rep.emit(done(1));
        rep.emit(Event::ActionDone {
            step: 2,
            key: "k2".into(),
            outcome: "skipped".into(),
            message: Some("apply stopped after an indexing timeout".into()),
            id: None,
            secs: 0.0,
        });
        rep.emit(Event::ApplyComplete {
            succeeded: 1,
            failed: 0,
            not_attempted: 1,
            exit_code: 4,
            requests: 3,
            secs: 0.1,
        });
        let etas: Vec<u64> = ndjson(&sink)
            .iter()
            .map(|v| v["eta_secs"].as_u64().expect("eta_secs on every line"))
            .collect();
        // The plan's 150 s at start. The clock is real, so what the first step took calibrates
        // the second (not asserted exactly); once that one is skipped nothing is left.
        assert_eq!(etas[0], 150);
        assert!(etas[2] <= 150, "{etas:?}");
        assert_eq!(&etas[3..], [0, 0]);
    }

    #[test]
    fn without_indexing_steps_there_is_no_eta_field() {
        let sink = Sink::default();
        let rep = Reporter::new(Display::Silent, Some(Box::new(sink.clone())));
        rep.emit(start(1));
        rep.emit(done(1));
        assert!(ndjson(&sink).iter().all(|v| v.get("eta_secs").is_none()));
    }

    #[test]
    fn overall_lines_read_naturally() {
        let o = |finished, total, eta_secs| Overall {
            finished,
            total,
            eta_secs,
        };
        assert_eq!(
            overall_line(o(0, 50, 15_000), &start(50)),
            "indexing: 50 integrations, about 4h 10m left (plan estimate)"
        );
        assert_eq!(
            overall_line(o(12, 50, 250), &done(7)),
            "indexing: 12/50 finished, about 4m 10s left"
        );
        assert_eq!(
            overall_line(o(50, 50, 0), &done(9)),
            "indexing: 50/50 finished, nothing left"
        );
    }

    #[test]
    fn without_bars_no_overall_bar_is_made() {
        for display in [Display::Lines, Display::Silent] {
            let rep = Reporter::new(display, None);
            rep.emit(start(1));
            assert!(rep.overall.get().is_none());
        }
    }
}
