//! `cargo bench --bench matching`: how fast the shipped rules read replies.
//!
//! The mix is the labelled corpus (`tests/corpus/replies.tsv`: SKIP, DELAY with and without
//! durations, HELP, UNDO and the many replies that must do nothing, in English, Spanish and
//! French), interpreted in a loop on one thread. Criterion reports elements per second, i.e.
//! messages per second per core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyroute::keywords::RuleSet;

const CORPUS: &str = include_str!("../tests/corpus/replies.tsv");

fn replies() -> Vec<&'static str> {
    CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::embedded();
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
                black_box(rules.interpret(black_box(text)));
            }
        })
    });
    group.throughput(Throughput::Elements(short.len() as u64));
    group.bench_function("typical short replies", |b| {
        b.iter(|| {
            for text in &short {
                black_box(rules.interpret(black_box(text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
