//! Times `gijctl::plan::plan` alone on a generated site (issue 7: the diff engine must scale
//! linearly). Faster to iterate on than the criterion bench, whose setup builds every size.
//!
//! Run: `cargo run --release --example diff_scaling -- <INTEGRATIONS> <ITERATIONS>`; prints the
//! median and minimum of the iterations (setup excluded).

use gijctl::devserver::{SiteSpec, generate, live_site};
use gijctl::plan::{self, PlanOptions};
use std::time::Instant;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .expect("usage: diff_scaling <INTEGRATIONS> <ITERATIONS>")
        .parse()
        .expect("usage: diff_scaling <INTEGRATIONS> <ITERATIONS>");
    let iters: usize = std::env::args().nth(2).unwrap().parse().unwrap();
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
    let mut times = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        let p = plan::plan(&desired, &live, &opts).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(p);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "n={n} median {:.2} ms min {:.2} ms",
        times[times.len() / 2],
        times[0]
    );
}
