//! Replay reports: a readable table (default), JSON, or JUnit XML for CI systems; and progress
//! while running (a bar on a terminal, plain lines otherwise).

use std::io::{IsTerminal, Write};

use super::FixtureResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
}

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Self {
            bar,
            total,
            done: 0,
        }
    }

    pub fn done(&mut self, r: &FixtureResult) {
        self.done += 1;
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        match &self.bar {
            Some(b) => {
                b.set_message(r.path.clone());
                b.inc(1);
            }
            None => eprintln!("[{}/{}] {verdict} {}", self.done, self.total, r.path),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

pub fn print(results: &[FixtureResult], format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => table(results, &mut out)?,
        Format::Json => {
            let passed = results.iter().filter(|r| r.passed).count();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "passed": passed,
                    "failed": results.len() - passed,
                    "fixtures": results,
                }),
            )?;
            writeln!(out)?;
        }
        Format::Junit => junit(results, &mut out)?,
    }
    Ok(())
}

fn table(results: &[FixtureResult], out: &mut impl Write) -> std::io::Result<()> {
    for r in results {
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        writeln!(
            out,
            "{verdict}  {}  {}",
            r.path,
            r.description.as_deref().unwrap_or("")
        )?;
        if let Some(e) = &r.error {
            writeln!(out, "      error: {e}")?;
        }
        for m in r.messages.iter().filter(|m| !m.problems.is_empty()) {
            writeln!(out, "      message {} {:?} (id {}):", m.index, m.text, m.id)?;
            writeln!(
                out,
                "        expected: {}",
                serde_json::to_string(&m.expected).unwrap_or_default()
            )?;
            writeln!(
                out,
                "        actual:   {}",
                serde_json::to_string(&m.actual).unwrap_or_default()
            )?;
            for p in &m.problems {
                writeln!(out, "        - {p}")?;
            }
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    writeln!(
        out,
        "\n{} passed, {} failed",
        passed,
        results.len() - passed
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(results: &[FixtureResult], out: &mut impl Write) -> std::io::Result<()> {
    let failures = results.iter().filter(|r| !r.passed).count();
    let time: f64 = results.iter().map(|r| r.seconds).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuite name="keyroute replay" tests="{}" failures="{failures}" errors="0" time="{time:.3}">"#,
        results.len()
    )?;
    for r in results {
        write!(
            out,
            r#"  <testcase classname="replay" name="{}" time="{:.3}""#,
            xml(&r.path),
            r.seconds
        )?;
        if r.passed {
            writeln!(out, "/>")?;
            continue;
        }
        let mut detail = String::new();
        if let Some(e) = &r.error {
            detail.push_str(e);
            detail.push('\n');
        }
        for m in &r.messages {
            for p in &m.problems {
                detail.push_str(&format!("message {} {:?}: {p}\n", m.index, m.text));
            }
        }
        let first = detail.lines().next().unwrap_or("failed").to_owned();
        writeln!(out, ">")?;
        writeln!(
            out,
            r#"    <failure message="{}">{}</failure>"#,
            xml(&first),
            xml(&detail)
        )?;
        writeln!(out, "  </testcase>")?;
    }
    writeln!(out, "</testsuite>")
}
