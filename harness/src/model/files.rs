//! A model of the files a generated edit workload shares, and the checks of
//! what the agent left in them.
//!
//! A shared file is made of *slots* (one line each, `key = vN`, only ever
//! bumped by the client that owns the key), *pairs* (a token written twice
//! on one line, bumped with `replace_all` by its owner) and an *append log*
//! before the `END` line, which every client appends to. Owned slots and
//! pairs commute, so their final values do not depend on the order the agent
//! applied the edits in: each must be exactly its owner's last acknowledged
//! value. Appends do not commute; their order in the file is the order the
//! agent serialised them in (its lock order), and it must respect real time:
//! an append acknowledged before another was sent comes first. Each
//! acknowledged append appears exactly once (an edit executed twice would
//! show its line twice), a failed one never.

use std::collections::BTreeMap;
use std::time::Duration;

use super::process::Mismatch;

/// The line that ends every shared file; appends go before it.
pub const END: &str = "END\n";

/// One shared file's expected state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotFile {
    pub title: String,
    /// Key → value, in file order.
    pub slots: Vec<(String, u32)>,
    /// Pair key → value, in file order.
    pub pairs: Vec<(String, u32)>,
}

/// The text of slot `key` at `value` (a whole line).
pub fn slot_line(key: &str, value: u32) -> String {
    format!("{key} = v{value}\n")
}

/// The token of pair `key` at `value`; its line holds it twice.
pub fn pair_token(key: &str, value: u32) -> String {
    format!("<{key}#{value}>")
}

fn pair_line(key: &str, value: u32) -> String {
    let t = pair_token(key, value);
    format!("pair {key}: {t} and {t}\n")
}

impl SlotFile {
    /// The file's text with these appended lines (each without its `\n`).
    pub fn render(&self, appended: &[String]) -> String {
        let mut s = format!("# {}\n", self.title);
        for (k, v) in &self.slots {
            s.push_str(&slot_line(k, *v));
        }
        for (k, v) in &self.pairs {
            s.push_str(&pair_line(k, *v));
        }
        for line in appended {
            s.push_str(line);
            s.push('\n');
        }
        s.push_str(END);
        s
    }

    /// The appended lines of `content` (between the pairs and `END`), or
    /// `None` if the rest of it is not this model's layout.
    pub fn appended_in(&self, content: &str) -> Option<Vec<String>> {
        let head = self.render(&[]);
        let fixed = head.strip_suffix(END)?;
        let rest = content.strip_prefix(fixed)?;
        let body = rest.strip_suffix(END)?;
        Some(body.lines().map(str::to_string).collect())
    }
}

/// One append: its line, when it was sent and when (if) acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    pub line: String,
    pub sent: Duration,
    pub acked: Option<Duration>,
}

/// Checks the final content of a shared file: every slot and pair at its
/// last acknowledged value, every acknowledged append exactly once and none
/// of the failed ones, in an order that respects real time.
pub fn check_final(model: &SlotFile, appends: &[Append], content: &str) -> Result<(), Mismatch> {
    let Some(seen) = model.appended_in(content) else {
        let acked: Vec<String> = appends
            .iter()
            .filter(|a| a.acked.is_some())
            .map(|a| a.line.clone())
            .collect();
        return Err(Mismatch::new(
            format!(
                "{:?} with appends {acked:?} in some order",
                model.render(&[])
            ),
            format!("{content:?}"),
        ));
    };
    let by_line: BTreeMap<&str, &Append> = appends.iter().map(|a| (a.line.as_str(), a)).collect();
    let mut position = BTreeMap::new();
    for (i, line) in seen.iter().enumerate() {
        match by_line.get(line.as_str()) {
            Some(a) if a.acked.is_some() => {
                if position.insert(line.as_str(), i).is_some() {
                    return Err(Mismatch::new(
                        format!("{line:?} once (one acknowledged edit)"),
                        format!("twice in {seen:?}"),
                    ));
                }
            }
            _ => {
                return Err(Mismatch::new(
                    "only acknowledged appends",
                    format!("{line:?} in {seen:?}"),
                ));
            }
        }
    }
    for a in appends.iter().filter(|a| a.acked.is_some()) {
        if !position.contains_key(a.line.as_str()) {
            return Err(Mismatch::new(
                format!("acknowledged append {:?} kept", a.line),
                format!("missing from {seen:?}"),
            ));
        }
    }
    for a in appends {
        for b in appends {
            let (Some(acked), Some(pa), Some(pb)) = (
                a.acked,
                position.get(a.line.as_str()),
                position.get(b.line.as_str()),
            ) else {
                continue;
            };
            if acked < b.sent && pa > pb {
                return Err(Mismatch::new(
                    format!(
                        "{:?} (acknowledged at {acked:?}) before {:?} (sent at {:?})",
                        a.line, b.line, b.sent
                    ),
                    format!("the other way round in {seen:?}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> SlotFile {
        SlotFile {
            title: "f0".into(),
            slots: vec![("c0.s0".into(), 2), ("c1.s0".into(), 0)],
            pairs: vec![("c0".into(), 1)],
        }
    }

    fn append(line: &str, sent: u64, acked: Option<u64>) -> Append {
        Append {
            line: line.into(),
            sent: Duration::from_millis(sent),
            acked: acked.map(Duration::from_millis),
        }
    }

    #[test]
    fn the_final_file_holds_each_acknowledged_append_once_in_real_time_order() {
        let m = model();
        let appends = [
            append("a", 0, Some(10)),
            append("b", 5, Some(8)),
            append("c", 20, Some(30)),
        ];
        let ok = m.render(&["b".into(), "a".into(), "c".into()]);
        assert_eq!(check_final(&m, &appends, &ok), Ok(()));
        let reordered = m.render(&["c".into(), "a".into(), "b".into()]);
        assert!(check_final(&m, &appends, &reordered).is_err());
        let twice = m.render(&["a".into(), "b".into(), "c".into(), "c".into()]);
        assert!(check_final(&m, &appends, &twice).is_err());
        let lost = m.render(&["a".into(), "b".into()]);
        assert!(check_final(&m, &appends, &lost).is_err());
    }

    #[test]
    fn a_slot_off_by_one_is_not_the_model() {
        let m = model();
        let mut other = m.clone();
        other.slots[0].1 = 1;
        assert!(check_final(&m, &[], &other.render(&[])).is_err());
        assert_eq!(check_final(&m, &[], &m.render(&[])), Ok(()));
    }
}
