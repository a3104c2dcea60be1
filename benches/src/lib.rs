//! Workload data shared by the criterion benches (wall time) and the
//! gungraun gate (instruction counts, `benches/gate.rs`), so both measure
//! the very same inputs. The bench files themselves live in `benches/`.

use std::hint::black_box;

use agent::headtail::HeadTailBuffer;

pub const MIB: usize = 1 << 20;

/// W1's line: 16 bytes, newline-terminated.
pub const W1_LINE: &[u8; 16] = b"0123456789abcde\n";
/// W1 writes this many lines (16 MiB).
pub const W1_WRITES: usize = 1 << 20;
/// W2 and W3 write this much.
pub const W23_BYTES: usize = 64 * MIB;

/// A 4 KiB chunk cut from a stream of 80-byte lines (79 bytes and `\n`): W2.
pub fn w2_chunk() -> Vec<u8> {
    let line: Vec<u8> = (0..79u8).map(|i| b'a' + i % 26).chain([b'\n']).collect();
    line.iter().copied().cycle().take(4096).collect()
}

/// A 64 KiB chunk without a newline: W3.
pub fn w3_chunk() -> Vec<u8> {
    (0..64 * 1024).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Writes `total` bytes of `chunk` (repeated) into `buf`.
pub fn write_all(buf: &HeadTailBuffer, chunk: &[u8], total: usize) {
    for _ in 0..total / chunk.len() {
        black_box(buf.write(black_box(chunk)));
    }
}

/// A full buffer after W2's data (W4 snapshots it).
pub fn after_w2() -> HeadTailBuffer {
    let buf = HeadTailBuffer::new();
    write_all(&buf, &w2_chunk(), W23_BYTES);
    buf
}

/// A full buffer after W3's data (W4b snapshots it).
pub fn after_w3() -> HeadTailBuffer {
    let buf = HeadTailBuffer::new();
    write_all(&buf, &w3_chunk(), W23_BYTES);
    buf
}

/// A Rust-like source file of just under 1 MiB, indented with four spaces:
/// its text, its lines, and the index of a line 90% of the way down (where
/// the matcher benches search).
pub fn source() -> (String, Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut size = 0;
    let mut i = 0;
    loop {
        let line = match i % 4 {
            0 => format!("fn step_{i}(input: u64) -> u64 {{"),
            1 | 2 => format!("    let value_{i} = compute(input, {i}).wrapping_mul(31);"),
            _ => "}".to_string(),
        };
        // Just under 1 MiB: the line reader's default cap is exactly 1 MiB.
        if size + line.len() + 1 > MIB {
            break;
        }
        size += line.len() + 1;
        lines.push(line);
        i += 1;
    }
    let text = lines.iter().map(|l| format!("{l}\n")).collect();
    let target = lines.len() * 9 / 10 / 4 * 4 + 1;
    (text, lines, target)
}

/// A search that is in no line of [`source`]: all three passes run over
/// the whole file.
pub const MISSING: &str = "    let nowhere = compute(input, 0);\n    let absent = 1;";

/// The line passes' adversarial miss: 100,000 lines `"  a"` searched for
/// 19,999 lines `"a"` and one `"b"` (content, search).
pub fn near_miss() -> (String, String) {
    (
        "  a\n".repeat(100_000),
        format!("{}b", "a\n".repeat(19_999)),
    )
}
