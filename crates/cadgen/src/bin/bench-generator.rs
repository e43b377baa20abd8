//! The generator's benchmark: runs the suite in `bench/prompts.tsv` (or
//! the file given as the first argument) and prints, per style, how many
//! prompts were made correctly, refused or made wrongly, and the
//! generator's p50 / p99 time per prompt. Exits with status 1 when any
//! prompt is made wrongly.
//!
//! Each line is `style<TAB>prompt<TAB>expected`. Follow-ups follow the
//! prompt after ` => `. The expected volume (mm³) is a formula written by
//! hand (`+ - * / ^`, `pi`, `sqrt(…)`), `range(lo, hi)` for gears (whose
//! involute volume has no closed form: between the root and tip discs), or
//! `refuse` for prompts that must be refused. A made part is correct when
//! its predicted volume matches the formula to 1e-6 (relative).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/bench/prompts.tsv").to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2)
    });
    let mut tally: BTreeMap<String, [u32; 3]> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [style, prompt, expected] = fields[..] else {
            eprintln!("line {}: expected three tab-separated fields", n + 1);
            std::process::exit(2)
        };
        let expected = Expected::parse(expected).unwrap_or_else(|e| {
            eprintln!("line {}: {e}", n + 1);
            std::process::exit(2)
        });
        // Best of five runs: the figure is the generator's, not the machine's noise.
        let mut best = Duration::MAX;
        let mut result = None;
        for _ in 0..5 {
            let started = Instant::now();
            let r = run(prompt);
            best = best.min(started.elapsed());
            result = Some(r);
        }
        times.push(best);
        let outcome = match (result.expect("ran"), &expected) {
            (Err(_), Expected::Refuse) => 0,
            (Ok(v), Expected::Refuse) => {
                notes.push(format!("WRONG (made {v:.3} mm³, should refuse): {prompt}"));
                2
            }
            (Err(reason), _) => {
                notes.push(format!("refused: {prompt}\n    {reason}"));
                1
            }
            (Ok(v), Expected::Volume(want)) if (v - want).abs() <= 1e-6 * want.abs().max(1.0) => 0,
            (Ok(v), Expected::Range(lo, hi)) if v > *lo && v < *hi => 0,
            (Ok(v), e) => {
                notes.push(format!("WRONG (made {v:.3} mm³, expected {e:?}): {prompt}"));
                2
            }
        };
        tally.entry(style.to_string()).or_default()[outcome] += 1;
    }
    for note in &notes {
        println!("{note}");
    }
    println!();
    println!(
        "{:<12} {:>7} {:>8} {:>8} {:>6}",
        "style", "prompts", "correct", "refused", "wrong"
    );
    let mut total = [0u32; 3];
    let mut in_scope = [0u32; 3];
    for (style, t) in &tally {
        println!(
            "{:<12} {:>7} {:>8} {:>8} {:>6}",
            style,
            t.iter().sum::<u32>(),
            t[0],
            t[1],
            t[2]
        );
        for i in 0..3 {
            total[i] += t[i];
            if style != "refusal" {
                in_scope[i] += t[i];
            }
        }
    }
    println!(
        "{:<12} {:>7} {:>8} {:>8} {:>6}",
        "all",
        total.iter().sum::<u32>(),
        total[0],
        total[1],
        total[2]
    );
    let scope: u32 = in_scope.iter().sum();
    println!(
        "in scope: {} of {} correct ({:.1} %)",
        in_scope[0],
        scope,
        100.0 * f64::from(in_scope[0]) / f64::from(scope.max(1))
    );
    times.sort();
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "generation time per prompt (follow-up chains whole): p50 {:.3} ms, p99 {:.3} ms",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    );
    if total[2] > 0 {
        std::process::exit(1);
    }
}

/// Runs a prompt and its follow-ups; the predicted volume or the refusal.
fn run(chain: &str) -> Result<f64, String> {
    let g = cadgen::converse(chain.split(" => ")).map_err(|e| e.reason)?;
    g.expected.volume_mm3.ok_or_else(|| "no volume predicted".to_string())
}

#[derive(Debug)]
enum Expected {
    Volume(f64),
    Range(f64, f64),
    Refuse,
}

impl Expected {
    fn parse(text: &str) -> Result<Expected, String> {
        let text = text.trim();
        if text == "refuse" {
            return Ok(Expected::Refuse);
        }
        if let Some(inner) = text.strip_prefix("range(").and_then(|t| t.strip_suffix(')')) {
            let (lo, hi) = split_top_comma(inner).ok_or("range needs two bounds")?;
            return Ok(Expected::Range(eval(lo)?, eval(hi)?));
        }
        eval(text).map(Expected::Volume)
    }
}

fn split_top_comma(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Evaluates `+ - * / ^`, parentheses, `pi` and `sqrt(…)`.
fn eval(text: &str) -> Result<f64, String> {
    let tokens: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut p = Parser { t: &tokens, i: 0 };
    let v = p.sum()?;
    if p.i != tokens.len() {
        return Err(format!("unexpected text in formula {text:?}"));
    }
    Ok(v)
}

struct Parser<'a> {
    t: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.t.get(self.i).copied()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if c == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.power()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.i += 1;
            let r = self.power()?;
            v = if c == '*' { v * r } else { v / r };
        }
        Ok(v)
    }

    fn power(&mut self) -> Result<f64, String> {
        let base = self.unary()?;
        if self.peek() == Some('^') {
            self.i += 1;
            let exp = self.power()?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<f64, String> {
        if self.peek() == Some('-') {
            self.i += 1;
            return Ok(-self.unary()?);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('(') => {
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(')') {
                    return Err("missing )".into());
                }
                self.i += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.i += 1;
                }
                let s: String = self.t[start..self.i].iter().collect();
                s.parse().map_err(|_| format!("bad number {s}"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.i += 1;
                }
                let name: String = self.t[start..self.i].iter().collect();
                match name.as_str() {
                    "pi" => Ok(std::f64::consts::PI),
                    "sqrt" => Ok(self.atom()?.sqrt()),
                    other => Err(format!("unknown name {other}")),
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}
