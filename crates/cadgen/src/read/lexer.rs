//! Prompt lexer: splits a free-text prompt into numbers, words and the few
//! symbols that carry meaning for dimensions (`×`, `Ø`, `"`, commas, brackets).
//!
//! The lexer knows nothing about parts; it only has to be total (never panic,
//! whatever the input) and keep enough position information for the one
//! place where spacing matters: `M6` (a thread) versus `6 m` (six metres).

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A number; fractions (`1/4`) and mixed numbers (`1 1/4`) are already
    /// resolved. Negative only when written with a leading minus.
    Number {
        value: f64,
        integral: bool,
    },
    /// A lower-cased run of letters.
    Word(String),
    /// `×` or `*` (the words "x" and "by" are resolved by the caller).
    Times,
    /// `Ø`, `⌀` or `∅`.
    DiameterSign,
    /// `"` or `″` (inches when it follows a number).
    InchMark,
    /// `,` or `;` — ends a phrase.
    Comma,
    /// `=` or `:` as in `d=20`.
    Equals,
    /// `%`: "50% longer".
    Percent,
    Open,
    Close,
}

/// A token and the char offsets it spans, used to tell glued tokens apart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lexed {
    pub token: Token,
    pub start: usize,
    pub end: usize,
}

impl Lexed {
    /// True when `next` starts right where `self` ends (no space between).
    pub fn glued_to(&self, next: &Lexed) -> bool {
        self.end == next.start
    }
}

/// Splits `prompt` into tokens. Characters with no meaning are dropped.
pub(crate) fn lex(prompt: &str) -> Vec<Lexed> {
    let chars: Vec<char> = prompt.chars().collect();
    let mut out: Vec<Lexed> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_number = c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        // A minus sign right before a number, not inside a word or range
        // ("-5", "= -5", "(-5"): a negative number, refused later by name.
        let negative = c == '-'
            && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == '.')
            && (i == 0 || chars[i - 1].is_whitespace() || matches!(chars[i - 1], '=' | ':' | '(' | ','));
        if negative {
            let (value, integral, end) = lex_number(&chars, i + 1);
            let token = Token::Number {
                value: -value,
                integral,
            };
            out.push(Lexed { token, start: i, end });
            i = end;
        } else if starts_number {
            let (value, integral, end) = lex_number(&chars, i);
            let token = Token::Number { value, integral };
            push_number(&mut out, &chars, Lexed { token, start: i, end });
            i = end;
        } else if c.is_alphabetic() && !is_diameter_sign(c) {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() && !is_diameter_sign(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().flat_map(|c| c.to_lowercase()).collect();
            out.push(Lexed {
                token: Token::Word(word),
                start,
                end: i,
            });
        } else {
            let token = match c {
                '×' | '*' => Some(Token::Times),
                '"' | '″' | '”' | '“' => Some(Token::InchMark),
                ',' | ';' => Some(Token::Comma),
                // A full stop that ends a sentence ends its phrase too
                // ("Drill a 22 mm hole in the middle. Add six 5 mm holes …").
                '.' | '!' | '?' if chars.get(i + 1).is_none_or(|n| n.is_whitespace()) => Some(Token::Comma),
                '=' | ':' => Some(Token::Equals),
                '%' => Some(Token::Percent),
                '(' | '[' => Some(Token::Open),
                ')' | ']' => Some(Token::Close),
                c if is_diameter_sign(c) => Some(Token::DiameterSign),
                // Everything else (spaces, hyphens, full stops, …) only separates.
                _ => None,
            };
            if let Some(token) = token {
                out.push(Lexed {
                    token,
                    start: i,
                    end: i + 1,
                });
            }
            i += 1;
        }
    }
    dimensionality(out)
}

/// "3D printable", "a 2D sketch": a word, not three millimetres of diameter.
fn dimensionality(tokens: Vec<Lexed>) -> Vec<Lexed> {
    let mut out: Vec<Lexed> = Vec::with_capacity(tokens.len());
    for t in tokens {
        let merged = match (out.last(), &t.token) {
            (
                Some(
                    prev @ Lexed {
                        token: Token::Number { value, .. },
                        ..
                    },
                ),
                Token::Word(w),
            ) if w == "d" && prev.glued_to(&t) && (*value == 2.0 || *value == 3.0) => Some(Lexed {
                token: Token::Word(format!("{value}d")),
                start: prev.start,
                end: t.end,
            }),
            _ => None,
        };
        match merged {
            Some(m) => *out.last_mut().expect("a previous token") = m,
            None => out.push(t),
        }
    }
    out
}

fn is_diameter_sign(c: char) -> bool {
    matches!(c, 'Ø' | 'ø' | '⌀' | '∅')
}

/// Reads `12`, `6.5`, `.5` or `1/4` starting at `start`; returns the value,
/// whether it is a whole number, and the index after it.
fn lex_number(chars: &[char], start: usize) -> (f64, bool, usize) {
    let (numerator, mut end) = lex_decimal(chars, start);
    let integral = !chars[start..end].contains(&'.');
    // A fraction needs digits right after the slash and a non-zero denominator.
    if chars.get(end) == Some(&'/') && chars.get(end + 1).is_some_and(char::is_ascii_digit) {
        let (denominator, after) = lex_decimal(chars, end + 1);
        if denominator > 0.0 {
            end = after;
            let value = numerator / denominator;
            return (value, value.fract() == 0.0, end);
        }
    }
    (numerator, integral, end)
}

fn lex_decimal(chars: &[char], start: usize) -> (f64, usize) {
    let mut end = start;
    let mut seen_point = false;
    while let Some(&c) = chars.get(end) {
        let is_point = c == '.' && !seen_point && chars.get(end + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || is_point {
            seen_point |= is_point;
            end += 1;
        } else {
            break;
        }
    }
    let text: String = chars[start..end].iter().collect();
    // Only digits and one point were collected, so parsing cannot fail; an
    // absurdly long digit string parses to infinity and is rejected later.
    (text.parse().unwrap_or(f64::INFINITY), end)
}

/// Appends a number, folding `1 1/4` into a single mixed number.
fn push_number(out: &mut Vec<Lexed>, chars: &[char], number: Lexed) {
    let is_fraction = chars[number.start..number.end].contains(&'/');
    if let (true, Some(last)) = (is_fraction, out.last_mut()) {
        if let (
            Token::Number {
                value: whole,
                integral: true,
            },
            Token::Number { value: part, .. },
        ) = (&last.token, &number.token)
        {
            let only_space_between = chars[last.end..number.start].iter().all(|c| c.is_whitespace());
            if *part < 1.0 && only_space_between && !chars[last.start..last.end].contains(&'/') {
                let value = whole + part;
                last.token = Token::Number { value, integral: false };
                last.end = number.end;
                return;
            }
        }
    }
    out.push(number);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<Token> {
        lex(s).into_iter().map(|l| l.token).collect()
    }

    fn num(value: f64, integral: bool) -> Token {
        Token::Number { value, integral }
    }

    #[test]
    fn splits_glued_dimensions() {
        assert_eq!(
            tokens("40x20x10mm"),
            vec![
                num(40.0, true),
                Token::Word("x".into()),
                num(20.0, true),
                Token::Word("x".into()),
                num(10.0, true),
                Token::Word("mm".into()),
            ]
        );
    }

    #[test]
    fn a_full_stop_ends_a_phrase_but_not_a_decimal() {
        let w = |s: &str| Token::Word(s.into());
        assert_eq!(tokens("hole. Add"), vec![w("hole"), Token::Comma, w("add")]);
        assert_eq!(tokens("6 mm."), vec![num(6.0, true), w("mm"), Token::Comma]);
        assert_eq!(tokens("6.5 mm"), vec![num(6.5, false), w("mm")]);
    }

    #[test]
    fn three_d_is_a_word_not_a_number() {
        let w = |s: &str| Token::Word(s.into());
        assert_eq!(
            tokens("a 3D printable box"),
            vec![w("a"), w("3d"), w("printable"), w("box")]
        );
        assert_eq!(tokens("2d sketch"), vec![w("2d"), w("sketch")]);
        // Only glued, and only 2 or 3: "3 d" and "5d" stay numbers.
        assert_eq!(tokens("3 d"), vec![num(3.0, true), w("d")]);
        assert_eq!(tokens("5d"), vec![num(5.0, true), w("d")]);
    }

    #[test]
    fn reads_decimals_fractions_and_mixed_numbers() {
        assert_eq!(tokens("6.5"), vec![num(6.5, false)]);
        assert_eq!(tokens(".5"), vec![num(0.5, false)]);
        assert_eq!(tokens("1/4\""), vec![num(0.25, false), Token::InchMark]);
        assert_eq!(tokens("1 1/2 in"), vec![num(1.5, false), Token::Word("in".into())]);
        assert_eq!(tokens("4/2"), vec![num(2.0, true)]);
        assert_eq!(tokens("side -5"), vec![Token::Word("side".into()), num(-5.0, true)]);
        assert_eq!(
            tokens("M6-1"),
            vec![Token::Word("m".into()), num(6.0, true), num(1.0, true)]
        );
        // A zero denominator is no fraction: the slash just separates.
        assert_eq!(tokens("3/0"), vec![num(3.0, true), num(0.0, true)]);
    }

    #[test]
    fn lowercases_and_splits_hyphens_and_symbols() {
        assert_eq!(
            tokens("L-Bracket Ø6"),
            vec![
                Token::Word("l".into()),
                Token::Word("bracket".into()),
                Token::DiameterSign,
                num(6.0, true)
            ]
        );
    }

    #[test]
    fn records_glue() {
        let l = lex("M6 m 6");
        assert!(l[0].glued_to(&l[1]));
        assert!(!l[2].glued_to(&l[3]));
    }
}
