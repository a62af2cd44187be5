//! Training the second-opinion model: multinomial logistic regression by AdaGrad, in a fixed
//! order (a seeded shuffle), so the same corpus always gives the same weights.
//!
//! `tools/train-model` runs [`write_weights`]: it trains on the development corpus and writes
//! `src/keywords/model/weights.txt`. The frozen test split and `val.tsv` are never read here.

use super::*;
use crate::keywords::corpus::{self, Line};
use crate::keywords::normalize::normalize;

/// A message's feature buckets; each feature has the same `value`.
pub(super) struct Features {
    pub(super) buckets: Vec<u32>,
    value: f32,
}

/// Every feature of a message, for training.
pub(super) fn features(norm: &Normalized) -> Features {
    let mut buckets = Vec::with_capacity(norm.tokens.len() * 8);
    each_feature(norm, |b| buckets.push(b));
    Features {
        value: unit(buckets.len()),
        buckets,
    }
}

/// Passes over the corpus.
const EPOCHS: usize = 12;
const RATE: f32 = 0.5;
/// L2 pull towards zero, applied to the weights an example touches.
const L2: f32 = 1e-5;

/// The column of a corpus label (`skip`, `delay:14`, `delay@2027-03-21`, `none`, ...).
pub(super) fn class_of(label: &str) -> Option<usize> {
    let action = corpus::action_of(label);
    CLASSES.iter().position(|c| match c {
        None => action == "none",
        Some(a) => a.as_str() == action,
    })
}

/// What the model is trained on: the development parts but [`corpus::NOT_TRAINED_ON`].
pub(super) fn development() -> Vec<(&'static str, Vec<Line>)> {
    corpus::DEVELOPMENT
        .iter()
        .filter(|(name, _)| !corpus::NOT_TRAINED_ON.contains(name))
        .map(|(name, text)| (*name, corpus::parse(text)))
        .collect()
}

/// Weights as they are trained: real numbers, written out as integers by [`write`].
pub(super) struct Trained {
    bias: [f32; K],
    weights: Vec<[f32; K]>,
}

impl Trained {
    fn probabilities(&self, f: &Features) -> [f32; K] {
        let mut s = self.bias;
        for b in &f.buckets {
            let row = &self.weights[*b as usize];
            for k in 0..K {
                s[k] += row[k] * f.value;
            }
        }
        softmax(s)
    }

    /// The model as it is shipped: written out and read back, so that experiments measure
    /// exactly what `weights.txt` would hold.
    pub(super) fn model(&self) -> Model {
        Model::parse(&write(self, "")).unwrap_or_else(|e| panic!("written weights parse: {e}"))
    }
}

/// Trains on `lines` (lines with an unknown label are skipped).
pub(super) fn train<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Trained {
    let examples: Vec<(Features, usize)> = lines
        .into_iter()
        .filter_map(|l| Some((features(&normalize(&l.text)), class_of(&l.label)?)))
        .collect();
    let mut m = Trained {
        bias: [0.0; K],
        weights: vec![[0.0; K]; BUCKETS],
    };
    let mut g2 = vec![[0.0f32; K]; BUCKETS];
    let mut bias_g2 = [0.0f32; K];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..EPOCHS {
        // Fisher-Yates with xorshift: deterministic.
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &e in &order {
            let (f, y) = &examples[e];
            let mut g = m.probabilities(f);
            g[*y] -= 1.0;
            for k in 0..K {
                bias_g2[k] += g[k] * g[k];
                m.bias[k] -= RATE * g[k] / (bias_g2[k].sqrt() + 1e-6);
            }
            for b in &f.buckets {
                let (w, acc) = (&mut m.weights[*b as usize], &mut g2[*b as usize]);
                for k in 0..K {
                    let grad = g[k] * f.value + L2 * w[k];
                    acc[k] += grad * grad;
                    w[k] -= RATE * grad / (acc[k].sqrt() + 1e-6);
                }
            }
        }
    }
    m
}

/// The weights as `weights.txt`: rows that round to zero are left out.
pub(super) fn write(m: &Trained, about: &str) -> String {
    let q = |w: f32| {
        (w * SCALE)
            .round()
            .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
    };
    let row = |r: &[f32; K]| {
        r.iter()
            .map(|w| q(*w).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let names: Vec<&str> = CLASSES
        .iter()
        .map(|c| c.map(|a| a.as_str()).unwrap_or("none"))
        .collect();
    let mut out = format!(
        "# keyroute's second-opinion model (src/keywords/model): written by tools/train-model, do not edit.\n\
         # {about}\n# bits={BITS} scale={SCALE} columns: {}\nbias {}\n",
        names.join(" "),
        row(&m.bias)
    );
    for (b, r) in m.weights.iter().enumerate() {
        if r.iter().any(|w| q(*w) != 0) {
            out.push_str(&format!("{b} {}\n", row(r)));
        }
    }
    out
}

/// `tools/train-model`: trains on the whole development corpus and writes the weights.
#[test]
#[ignore]
fn write_weights() {
    let sets = development();
    let lines: Vec<&Line> = sets.iter().flat_map(|(_, l)| l.iter()).collect();
    let n = lines.len();
    let m = train(lines);
    let names: Vec<&str> = sets.iter().map(|(n, _)| *n).collect();
    let text = write(&m, &format!("trained on {n} lines: {}", names.join(", ")));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/keywords/model/weights.txt"
    );
    std::fs::write(path, &text).expect("write weights.txt");
    println!("wrote {path}: {} rows", text.lines().count());
}

#[test]
fn training_is_deterministic_and_learns() {
    let lines = corpus::parse(
        "skip it please\tskip\nplease skip\tskip\nskip this one\tskip\n\
         hold it two weeks\tdelay:14\ndelay please\tdelay\npush it back\tdelay\n\
         thanks so much\tnone\nlove the coffee\tnone\nhi there\tnone\n",
    );
    let a = train(&lines);
    let b = train(&lines);
    assert_eq!(write(&a, ""), write(&b, ""));
    let m = a.model();
    assert_eq!(m.predict(&normalize("skip please")).0, Some(Action::Skip));
    assert_eq!(m.predict(&normalize("thanks")).0, None);
}

/// Development aid: how much the model adds on a development split it was not trained on
/// (`KR_SET=dev|dev2|..`, default each in turn), at several thresholds.
#[test]
#[ignore]
fn held_out() {
    let only = std::env::var("KR_SET").unwrap_or_default();
    // KR_WITHOUT=dev5: also leave that part out of training, to see what it adds.
    let without = std::env::var("KR_WITHOUT").ok();
    let sets = development();
    let rules = crate::keywords::RuleSet::embedded();
    // The parts the model is never trained on are scored with the whole training set.
    let untrained: Vec<(&str, Vec<Line>)> = corpus::NOT_TRAINED_ON
        .iter()
        .filter_map(|n| corpus::development(n).map(|t| (*n, corpus::parse(t))))
        .collect();
    for (name, lines) in sets
        .iter()
        .chain(untrained.iter())
        .filter(|(n, _)| *n != "old")
    {
        if !only.is_empty() && only != *name {
            continue;
        }
        let others: Vec<&Line> = sets
            .iter()
            .filter(|(n, _)| n != name && Some(*n) != without.as_deref())
            .flat_map(|(_, l)| l.iter())
            .collect();
        let trained = train(others);
        let plain = corpus::score(
            &crate::keywords::RuleSet {
                model: Box::leak(Box::new(Model::empty())),
                ..rules.clone()
            },
            lines,
        );
        println!("{}", plain.summary(&format!("{name}, rules alone")));
        // (threshold, veto): the shipped threshold without and with the veto, then a laxer
        // and a stricter pair. A veto above 1 never fires.
        let runs = [
            (THRESHOLD, 2.0f32),
            (THRESHOLD, VETO),
            (0.7, 0.7),
            (THRESHOLD, 0.7),
            (0.7, VETO),
            (0.6, 0.6),
            (0.9, 0.9),
        ];
        for (t, veto) in runs {
            let mut m = trained.model();
            m.threshold = t;
            m.veto = veto;
            let m: &'static Model = Box::leak(Box::new(m));
            let r = corpus::score(
                &crate::keywords::RuleSet {
                    model: m,
                    ..rules.clone()
                },
                lines,
            );
            println!(
                "{}",
                r.summary(&format!("{name}, model at {t}, veto {veto}"))
            );
        }
    }
}

/// The model's two places in the reader, with a model trained here (not the committed one),
/// so these hold whatever `weights.txt` learns.
#[test]
fn the_model_offers_and_doubts_but_never_overrides_a_guard() {
    use crate::keywords::Interpretation;
    let lines = corpus::parse(
        "frobnicate the box please\tskip\nfrobnicate the box\tskip\nplease frobnicate the box\tskip\n\
         i might skip the box\tskip\ni might skip the box maybe\tskip\n\
         frobnicate\tskip\n\
         skip it please\tnone\nskip it please then\tnone\nplease skip it please\tnone\n\
         thanks a lot\tnone\nlove the coffee\tnone\nhi there\tnone\n",
    );
    let model: &'static Model = Box::leak(Box::new(train(&lines).model()));
    let rules = crate::keywords::RuleSet {
        model,
        ..crate::keywords::RuleSet::embedded()
    };
    let read = |t: &str| rules.interpret_on(t, corpus::reference_date());
    // Found nothing: the model's reading, asked first.
    assert!(
        matches!(read("frobnicate the box please"), Interpretation::Unsure(i) if i.action == Action::Skip),
        "{:?}",
        read("frobnicate the box please")
    );
    // One word is too little.
    assert_eq!(
        read("frobnicate"),
        Interpretation::NoAction {
            reason: crate::keywords::REASON_NO_MATCH
        }
    );
    // A hedge stays a hedge, whatever the model reads.
    assert_eq!(
        read("i might skip the box"),
        Interpretation::NoAction {
            reason: crate::keywords::REASON_HEDGED
        }
    );
    // The rules are sure, the model reads none: ask first.
    assert!(
        matches!(read("skip it please"), Interpretation::Unsure(i) if i.action == Action::Skip),
        "{:?}",
        read("skip it please")
    );
    // With the embedded model out of the way the same reply is acted on.
    let plain = crate::keywords::RuleSet {
        model: Box::leak(Box::new(Model::empty())),
        ..crate::keywords::RuleSet::embedded()
    };
    assert!(matches!(
        plain.interpret_on("skip it please", corpus::reference_date()),
        Interpretation::Matched(_)
    ));
}
