//! What comes back out of a container from the function harness: its one result frame.
//! (Suites speak the frame protocol of `channel`, and the prober writes JSON lines.) A
//! parser only reads observations; verdicts are decided in `grading`.

use crate::domain::Value;

/// Splits the function harness's output into the learner's stdout and the one result
/// frame, which must be the last thing written: `"\n\x1e" nonce " " json "\n"`.
pub fn split_frame(stdout: &[u8], nonce: &str) -> Result<(Vec<u8>, Value), String> {
    let marker = format!("\n\x1e{nonce} ");
    let marker = marker.as_bytes();
    let positions: Vec<usize> = stdout
        .windows(marker.len())
        .enumerate()
        .filter(|(_, window)| *window == marker)
        .map(|(at, _)| at)
        .collect();
    let [at] = positions[..] else {
        return Err(match positions.len() {
            0 => "the function returned no value (the harness was stopped before it could report)"
                .to_string(),
            n => format!("{n} result frames were written; exactly one is allowed"),
        });
    };
    let rest = &stdout[at + marker.len()..];
    let Some(body) = rest.strip_suffix(b"\n") else {
        return Err("output followed the result frame".to_string());
    };
    if body.contains(&b'\n') {
        return Err("output followed the result frame".to_string());
    }
    let value =
        Value::parse(body).map_err(|error| format!("the result frame is not JSON: {error}"))?;
    Ok((stdout[..at].to_vec(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_must_be_single_and_last() {
        let (out, value) = split_frame(b"hello\n\n\x1eabc [1,2]\n", "abc").unwrap();
        assert_eq!(out, b"hello\n");
        assert_eq!(value, Value::from(serde_json::json!([1, 2])));
        assert!(split_frame(b"\n\x1eabc 1\n\n\x1eabc 2\n", "abc").is_err());
        assert!(split_frame(b"\n\x1eabc 1\nmore", "abc").is_err());
        assert!(split_frame(b"no frame", "abc").is_err());
        assert!(split_frame(b"\n\x1ezzz 1\n", "abc").is_err());
    }
}
