//! Property: for arbitrary write sequences and buffer sizes, the buffer
//! behaves like a naive model that keeps every byte and applies the rules of
//! the `headtail` module docs directly, line by line, with no ring, no
//! windows and no fast paths.

use agent::headtail::{HeadTailBuffer, Truncation};
use proptest::prelude::*;

use agent_testkit::headtail_model::{CAP, render_sized};

/// Every byte ever written, and the sizes; what it renders is the shared
/// naive model's answer.
struct Model {
    all: Vec<u8>,
    max_head: usize,
    max_tail: usize,
}

impl Model {
    fn head_end(&self) -> usize {
        self.all.len().min(self.max_head)
    }

    fn tail_start(&self) -> usize {
        self.head_end()
            .max(self.all.len().saturating_sub(self.max_tail))
    }

    fn retained(&self) -> Vec<u8> {
        let mut v = self.all[..self.head_end()].to_vec();
        v.extend_from_slice(&self.all[self.tail_start()..]);
        v
    }

    fn output(&self) -> (String, Option<Truncation>) {
        render_sized(&self.all, self.max_head, self.max_tail)
    }
}

fn marker(omitted: u64) -> String {
    format!("\n\n... [omitted {omitted} bytes] ...\n\n")
}

/// Pieces the writes are made of.
#[derive(Clone, Debug)]
enum Token {
    /// `len` copies of an ASCII letter (long lines, big writes).
    Run(u8, usize),
    Newlines(usize),
    /// Text with multi-byte characters.
    Text(String),
    /// Invalid or truncated sequences.
    Invalid(Vec<u8>),
    /// `len` stray continuation bytes (three rendered bytes each).
    Garbage(usize),
    /// `count` lines of `len` copies of `unit` each: many short lines, so
    /// that head and tail render near full size and the cap comes into play.
    Lines {
        count: usize,
        len: usize,
        unit: &'static [u8],
    },
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        4 => (b'a'..=b'z', prop_oneof![0..100usize, 2020..2060usize, 0..70_000usize])
            .prop_map(|(c, n)| Token::Run(c, n)),
        4 => (1..4usize).prop_map(Token::Newlines),
        3 => "[a-zé€😀\n]{0,40}".prop_map(Token::Text),
        2 => prop::collection::vec(
            prop::sample::select(vec![0x80u8, 0xBF, 0xC0, 0xC3, 0xE2, 0x82, 0xED, 0xA0, 0xF0, 0x9F, 0xFF]),
            1..5,
        )
        .prop_map(Token::Invalid),
        1 => prop_oneof![0..1000usize, 0..20_000usize].prop_map(Token::Garbage),
        2 => (0..1500usize, 0..200usize, prop::sample::select(vec![&b"x"[..], "é".as_bytes(), "€".as_bytes(), "😀".as_bytes(), &[0x80]]))
            .prop_map(|(count, len, unit)| Token::Lines { count, len, unit }),
    ]
}

fn bytes_of(tokens: &[Token]) -> Vec<u8> {
    let mut v = Vec::new();
    for t in tokens {
        match t {
            Token::Run(c, n) => v.extend(std::iter::repeat_n(*c, *n)),
            Token::Newlines(n) => v.extend(std::iter::repeat_n(b'\n', *n)),
            Token::Text(s) => v.extend_from_slice(s.as_bytes()),
            Token::Invalid(b) => v.extend_from_slice(b),
            Token::Garbage(n) => v.extend(std::iter::repeat_n(0x80, *n)),
            Token::Lines { count, len, unit } => {
                for _ in 0..*count {
                    for _ in 0..*len {
                        v.extend_from_slice(unit);
                    }
                    v.push(b'\n');
                }
            }
        }
    }
    v
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![0..64usize, Just(16384usize), 0..40_000usize]
}

/// Writes `writes` into a buffer and the model and compares everything.
fn check(max_head: usize, max_tail: usize, writes: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let buf = HeadTailBuffer::sized(max_head, max_tail);
    let mut model = Model {
        all: Vec::new(),
        max_head,
        max_tail,
    };
    for w in writes {
        prop_assert_eq!(buf.write(w), w.len());
        model.all.extend_from_slice(w);
        prop_assert_eq!(buf.total_written(), model.all.len() as u64);
    }
    let retained = model.retained();
    prop_assert_eq!(buf.len(), retained.len());
    prop_assert!(buf.bytes() == retained, "retained bytes differ");
    let (out, info) = buf.output();
    let (want, want_info) = model.output();
    prop_assert!(out.len() <= CAP, "{} bytes", out.len());
    if out != want {
        let at = out
            .bytes()
            .zip(want.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let from = at.saturating_sub(40);
        prop_assert!(
            false,
            "output differs at byte {} (len {} vs model {}):\n got {:?}\nwant {:?}",
            at,
            out.len(),
            want.len(),
            &out.get(from..(at + 40).min(out.len())),
            &want.get(from..(at + 40).min(want.len())),
        );
    }
    prop_assert_eq!(&info, &want_info);
    if let Some(info) = info {
        prop_assert_eq!(info.retained_bytes, out.len() as u64);
        prop_assert_eq!(info.original_bytes, model.all.len() as u64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Failures are kept next to this file (`headtail_model.regressions`).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_buffer_renders_like_a_model_keeping_every_byte(
        max_head in size(),
        max_tail in size(),
        writes in prop::collection::vec(prop::collection::vec(token(), 0..6), 0..8),
    ) {
        let writes: Vec<Vec<u8>> = writes.iter().map(|w| bytes_of(w)).collect();
        check(max_head, max_tail, &writes)?;
    }

    #[test]
    fn byte_by_byte_writes_render_like_one_write(
        max_head in 0..40usize,
        max_tail in 0..40usize,
        tokens in prop::collection::vec(token(), 0..6),
    ) {
        let all = bytes_of(&tokens);
        let all = &all[..all.len().min(4096)];
        let writes: Vec<Vec<u8>> = all.iter().map(|&b| vec![b]).collect();
        check(max_head, max_tail, &writes)?;
        check(max_head, max_tail, &[all.to_vec()])?;
    }
}

#[test]
fn model_spot_checks() {
    // The model itself, on the documented examples
    // (`docs/agent-api.md#process-output`).
    let m = Model {
        all: b"0123456789abcdefghij".to_vec(),
        max_head: 10,
        max_tail: 10,
    };
    assert_eq!(m.output().0, "0123456789abcdefghij");
    let m = Model {
        all: [&[b'A'; 10][..], &[b'M'; 80], &[b'Z'; 10]].concat(),
        max_head: 10,
        max_tail: 10,
    };
    assert_eq!(m.output().0, format!("AAAAAAAAAA{}ZZZZZZZZZZ", marker(80)));
}
