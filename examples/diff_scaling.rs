//! Times `gijctl::plan::plan` alone on a generated site (issue 7: the diff engine must scale
//! linearly). Faster to iterate on than the criterion bench, whose setup builds every size.
//!
//! Run: `cargo run --release --example diff_scaling -- <INTEGRATIONS> <ITERATIONS> [cold]`;
//! prints the median and minimum of the iterations (setup excluded).
//!
//! `cold` evicts the CPU caches before every iteration by writing a buffer four times the size
//! of this machine's 32 MiB L3. Why: repeating `plan` on the same input keeps a small site
//! (1,000 integrations, ~3.5 MB) in the cache while a large one (10,000, ~35 MB) cannot stay
//! there, so warm iterations compare cache speed with memory speed. `gijctl plan` runs the
//! diff once per process on state just read from the network, never on a warm cache: the cold
//! figures are the ones that describe the product; BENCHMARKS.md reports both.
//!
//! Profiling only the timed region (setup at 100,000 integrations takes 25 s and would fill a
//! whole-process profile): set `PERF_CTL` to a FIFO that `perf` listens on, e.g.
//! `mkfifo ctl; PERF_CTL=ctl perf record -D -1 --control=fifo:ctl -- <this example> 100000 20`;
//! the example enables the events around each `plan` call and disables them after. perf reads
//! the FIFO asynchronously, so the bounds are approximate (microseconds against a call of
//! milliseconds).

use gijctl::devserver::{SiteSpec, generate, live_site};
use gijctl::plan::{self, PlanOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counts allocations, so that the output shows whether the diff allocates a constant amount
/// per integration (it should: a count growing faster than the input is a scaling bug).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .expect("usage: diff_scaling <INTEGRATIONS> <ITERATIONS>")
        .parse()
        .expect("usage: diff_scaling <INTEGRATIONS> <ITERATIONS>");
    let iters: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let cold = std::env::args().nth(3).as_deref() == Some("cold");
    let mut evict = if cold {
        vec![0u8; 128 << 20]
    } else {
        Vec::new()
    };
    let t = Instant::now();
    let g = generate(SiteSpec {
        integrations: n,
        repositories: 20,
    });
    let site = g
        .parsed_seed()
        .and_then(|s| s.into_state(1_700_000_000_000, 2000, 100.0))
        .unwrap();
    let wire = live_site(&site);
    drop(site);
    let live = plan::from_site(&wire);
    drop(wire);
    let desired = gijctl::config::load_str(&g.config, "gij.toml").unwrap();
    eprintln!("setup {:?}", t.elapsed());
    let opts = PlanOptions::default();
    let mut perf = std::env::var_os("PERF_CTL").map(|path| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("PERF_CTL names a FIFO that perf reads (--control=fifo:PATH)")
    });
    let mut times = Vec::new();
    // Every plan is kept until the end. Why: `gijctl plan` plans once per process and never
    // frees its plan before planning again, but glibc defers the work of a free to the next
    // large allocation, so dropping iteration k's plan made iteration k+1 pay for freeing it
    // (perf: `_int_malloc` was 5% of planning at 10k integrations and 9.5% at 100k).
    let mut kept = Vec::with_capacity(iters);
    let mut allocations = 0;
    for k in 0..iters {
        // One write per cache line of a buffer larger than every cache level.
        for b in evict.iter_mut().step_by(64) {
            *b = b.wrapping_add(k as u8 | 1);
        }
        std::hint::black_box(&evict);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        perf_control(&mut perf, "enable");
        let t = Instant::now();
        let p = plan::plan(&desired, &live, &opts).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        perf_control(&mut perf, "disable");
        allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        kept.push(std::hint::black_box(p));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "n={n}{} median {:.2} ms min {:.2} ms, {:.1} allocations per integration",
        if cold { " cold" } else { "" },
        times[times.len() / 2],
        times[0],
        allocations as f64 / n as f64
    );
}

/// Sends a command (`enable`, `disable`) to perf's control FIFO, when there is one.
fn perf_control(fifo: &mut Option<std::fs::File>, command: &str) {
    use std::io::Write;
    if let Some(f) = fifo {
        writeln!(f, "{command}").expect("perf's control FIFO accepts commands");
    }
}
