//! `cargo bench --bench matching`: how fast the shipped rules read replies.
//!
//! The mix is the labelled corpora (`tests/corpus/v2/dev.tsv`, independent authors' replies
//! of every kind, many long; and `tests/corpus/replies.tsv`, mostly short), interpreted in a
//! loop on one thread with a fixed date. Criterion reports elements per second, i.e. messages
//! per second per core. "start-up" is what the first reply after start pays: compiling the
//! shipped rules and the built-in vocabulary.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyroute::keywords::RuleSet;

const CORPORA: [&str; 2] = [
    include_str!("../tests/corpus/v2/dev.tsv"),
    include_str!("../tests/corpus/replies.tsv"),
];

fn replies() -> Vec<&'static str> {
    CORPORA
        .iter()
        .flat_map(|c| c.lines())
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::embedded();
    let today = jiff::civil::date(2027, 3, 10);
    let mix = replies();
    let short: Vec<&str> = vec![
        "Skip",
        "SKIP!!",
        "skip pls 🙏",
        "delay 2 weeks",
        "HELP",
        "thanks!",
        "STOP",
        "undo",
    ];
    let mut group = c.benchmark_group("interpret");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("corpus mix", |b| {
        b.iter(|| {
            for text in &mix {
                black_box(rules.interpret_on(black_box(text), today));
            }
        })
    });
    group.throughput(Throughput::Elements(short.len() as u64));
    group.bench_function("typical short replies", |b| {
        b.iter(|| {
            for text in &short {
                black_box(rules.interpret_on(black_box(text), today));
            }
        })
    });
    group.finish();
    // Start-up: the rules compiled from the embedded files. (The built-in vocabulary is
    // built once per process, on first use, and is part of the first iteration only; run
    // `keyroute match` under `time` for the whole cold start.)
    c.bench_function("start-up: compile the shipped rules", |b| {
        b.iter(|| black_box(RuleSet::embedded()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
