//! Criterion benchmarks of the pure parts of `gijctl plan` (issue 7): the diff engine at 1k,
//! 10k and 100k integrations (to check that it scales linearly), the wire-to-live conversion
//! and the renderers, on generated sites (`gijctl::devserver::generate`) of 20 repositories
//! per integration. No network: the live site is built from the dev-server's own views.
//!
//! Run: `cargo bench --bench plan` (one group: `cargo bench --bench plan -- diff`).
//!
//! Outputs are dropped outside each timed iteration (`iter_with_large_drop`): `gijctl plan`
//! builds one plan per process and never frees it before planning again. glibc makes the next
//! large allocation pay for earlier frees, so the batch dropped between samples is still
//! billed to the next sample's first iteration, amortised over the batch;
//! `examples/diff_scaling.rs`, which keeps every plan, avoids even that.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gijctl::api::LiveSite;
use gijctl::devserver::{SiteSpec, generate, live_site};
use gijctl::model::DesiredState;
use gijctl::plan::{self, LiveState, PlanOptions};

const REPOS: usize = 20;

/// The desired state, the wire site and the live state of a generated site.
fn inputs(integrations: usize) -> (DesiredState, LiveSite, LiveState) {
    let g = generate(SiteSpec {
        integrations,
        repositories: REPOS,
    });
    let site = g
        .parsed_seed()
        .and_then(|s| s.into_state(1_700_000_000_000, 2000, 100.0))
        .unwrap_or_else(|e| panic!("generated seed {}: {e}", g.spec));
    let wire = live_site(&site);
    drop(site);
    let live = plan::from_site(&wire);
    let desired = gijctl::config::load_str(&g.config, "gij.toml")
        .unwrap_or_else(|e| panic!("generated config {}: {e}", g.spec));
    (desired, wire, live)
}

fn bench_diff(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    let opts = PlanOptions::default();
    for n in [1_000usize, 10_000, 100_000] {
        let (desired, wire, live) = inputs(n);
        drop(wire);
        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(20));
        }
        group.bench_with_input(BenchmarkId::new("plan", n), &n, |b, _| {
            b.iter_with_large_drop(|| plan::plan(black_box(&desired), black_box(&live), &opts))
        });
    }
    group.finish();
}

fn bench_from_site(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_site");
    group.sample_size(20);
    for n in [1_000usize, 10_000] {
        let (_, wire, _) = inputs(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("from_site", n), &n, |b, _| {
            b.iter_with_large_drop(|| plan::from_site(black_box(&wire)))
        });
    }
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    let n = 10_000;
    let (desired, _, live) = inputs(n);
    let p = plan::plan(&desired, &live, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("planning the generated site: {e}"));
    group.bench_function(BenchmarkId::new("text", n), |b| {
        b.iter(|| gijctl::render::text::render(black_box(&p), false))
    });
    group.bench_function(BenchmarkId::new("json", n), |b| {
        b.iter(|| gijctl::render::json::render(black_box(&p)))
    });
    group.finish();
}

criterion_group!(benches, bench_diff, bench_from_site, bench_render);
criterion_main!(benches);
