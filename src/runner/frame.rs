//! The harnesses' frames: one type and one parser for every harness on both runners
//! (the wasm harnesses, the Docker testers, the Docker function harness). Frames are
//! `"\n" "\x1e" <nonce> " " <json> "\n"` on stdout; `sandboxes/README.md`, "Frames",
//! lists every event and its fields.

use crate::domain::{SuiteStatus, Value};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One frame, as the harness sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The runtime and harness have started (trusted code only so far).
    Ready,
    /// The learner's code is being loaded (function, suite).
    Load,
    /// A suite's tester has imported the test files.
    Loaded,
    Begin {
        case: usize,
    },
    End(CaseEnd),
    /// A suite's tester asks the learner's instance something (relayed as `data`).
    Call {
        data: String,
    },
    /// A parse of the learner's files failed, before any of their code ran.
    CompileError {
        message: String,
    },
    /// Loading the learner's code raised: every test has this error.
    LoadError {
        error: HarnessError,
    },
    /// The harness itself failed (a test's own schema or seed): not the learner's doing.
    Fault {
        message: String,
    },
    Done,
    /// An event this host does not know: kept in order, never acted on.
    Other(String),
}

/// A case's `end` frame: what the harness observed, never a verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseEnd {
    pub case: usize,
    /// The case ran to its end (false: it raised, see `error`).
    pub ok: bool,
    /// What a function returned or a query selected; `Null` when absent.
    pub value: Value,
    /// An io program's exit code.
    pub exit: Option<i32>,
    /// A suite test's status and message.
    pub status: Option<SuiteStatus>,
    pub message: Option<String>,
    pub error: Option<HarnessError>,
}

/// An error the harness caught: its message and, when there is one, the traceback.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HarnessError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub traceback: Option<String>,
}

impl HarnessError {
    /// The traceback, else the message.
    pub fn text(&self) -> String {
        self.traceback
            .as_deref()
            .filter(|text| !text.is_empty())
            .or(self.message.as_deref())
            .unwrap_or("the program raised an error")
            .to_string()
    }
}

/// Why a frame's body is not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON text: inside a case, whatever the learner returned or raised made it.
    NotJson(String),
    /// JSON, but not a frame of the protocol (a field missing or of the wrong type).
    Malformed(String),
}

/// The events this protocol names.
const KNOWN: [&str; 10] = [
    "ready",
    "load",
    "loaded",
    "done",
    "begin",
    "end",
    "call",
    "compile_error",
    "load_error",
    "fault",
];

/// The wire shape: every field any event carries, each optional. `value` stays raw
/// text so its integers reach `Value::parse` with every digit.
#[derive(Deserialize)]
struct Wire {
    event: String,
    case: Option<usize>,
    #[serde(default)]
    ok: bool,
    value: Option<Box<RawValue>>,
    /// Any JSON number: a learner's `sys.exit(10**30)` is an exit code too (saturated).
    exit: Option<f64>,
    status: Option<SuiteStatus>,
    message: Option<String>,
    error: Option<HarnessError>,
    data: Option<String>,
}

impl Frame {
    /// Parses a frame's body (the JSON between the marker and the newline).
    pub fn parse(body: &[u8]) -> Result<Frame, FrameError> {
        let wire: Wire = match serde_json::from_slice(body) {
            Ok(wire) => wire,
            Err(error) => return Frame::unreadable(body, error),
        };
        let missing =
            |field: &str| FrameError::Malformed(format!("{:?} has no {field}", wire.event));
        Ok(match wire.event.as_str() {
            "ready" => Frame::Ready,
            "load" => Frame::Load,
            "loaded" => Frame::Loaded,
            "done" => Frame::Done,
            "begin" => Frame::Begin {
                case: wire.case.ok_or_else(|| missing("case"))?,
            },
            "end" => Frame::End(CaseEnd {
                case: wire.case.ok_or_else(|| missing("case"))?,
                ok: wire.ok,
                value: match &wire.value {
                    Some(raw) => Value::parse(raw.get().as_bytes()).map_err(FrameError::NotJson)?,
                    None => Value::Null,
                },
                exit: wire.exit.map(|code| code as i32),
                status: wire.status,
                message: wire.message,
                error: wire.error,
            }),
            "call" => Frame::Call {
                data: wire.data.ok_or_else(|| missing("data"))?,
            },
            "compile_error" => Frame::CompileError {
                message: (wire.message).unwrap_or_else(|| "the code does not compile".to_string()),
            },
            "load_error" => Frame::LoadError {
                error: wire.error.unwrap_or_default(),
            },
            "fault" => Frame::Fault {
                message: wire.message.unwrap_or_else(|| "?".to_string()),
            },
            _ => Frame::Other(wire.event),
        })
    }

    /// Why `body` did not read as a frame, except that an event this protocol does not
    /// name is kept as `Other` whatever its fields hold (it is never acted on).
    fn unreadable(body: &[u8], error: serde_json::Error) -> Result<Frame, FrameError> {
        #[derive(Deserialize)]
        struct Named {
            event: String,
        }
        match error.classify() {
            serde_json::error::Category::Data => match serde_json::from_slice::<Named>(body) {
                Ok(named) if !KNOWN.contains(&named.event.as_str()) => {
                    Ok(Frame::Other(named.event))
                }
                _ => Err(FrameError::Malformed(error.to_string())),
            },
            _ => Err(FrameError::NotJson(error.to_string())),
        }
    }

    /// The event's name, for messages.
    pub fn event(&self) -> &str {
        match self {
            Frame::Ready => "ready",
            Frame::Load => "load",
            Frame::Loaded => "loaded",
            Frame::Begin { .. } => "begin",
            Frame::End(_) => "end",
            Frame::Call { .. } => "call",
            Frame::CompileError { .. } => "compile_error",
            Frame::LoadError { .. } => "load_error",
            Frame::Fault { .. } => "fault",
            Frame::Done => "done",
            Frame::Other(event) => event,
        }
    }
}

/// The marker every frame of a run starts with.
pub fn marker(nonce: &str) -> Vec<u8> {
    format!("\n\x1e{nonce} ").into_bytes()
}

/// Splits the output of a harness that reports once (the Docker function harness) into
/// the learner's stdout and its one `end` frame, which must be the last thing written.
pub fn split_last(stdout: &[u8], nonce: &str) -> Result<(Vec<u8>, CaseEnd), String> {
    let marker = marker(nonce);
    let positions: Vec<usize> = stdout
        .windows(marker.len())
        .enumerate()
        .filter(|(_, window)| *window == marker.as_slice())
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
    let Some(body) = rest
        .strip_suffix(b"\n")
        .filter(|body| !body.contains(&b'\n'))
    else {
        return Err("output followed the result frame".to_string());
    };
    match Frame::parse(body) {
        Ok(Frame::End(end)) => Ok((stdout[..at].to_vec(), end)),
        Ok(other) => Err(format!("the result frame is {:?}, not end", other.event())),
        Err(FrameError::NotJson(problem) | FrameError::Malformed(problem)) => {
            Err(format!("the result frame is not JSON: {problem}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_parses_into_its_variant() {
        let end = br#"{"event":"end","case":2,"ok":true,"value":123456789012345678901234567890}"#;
        let Ok(Frame::End(end)) = Frame::parse(end) else {
            panic!("an end frame");
        };
        assert_eq!(end.case, 2);
        assert_eq!(end.value.to_json(), "123456789012345678901234567890");
        let suite = br#"{"event":"end","case":0,"ok":true,"status":"skipped","message":"m"}"#;
        let Ok(Frame::End(suite)) = Frame::parse(suite) else {
            panic!("a suite end");
        };
        assert_eq!(suite.status, Some(SuiteStatus::Skipped));
        assert_eq!(Frame::parse(br#"{"event":"ready"}"#), Ok(Frame::Ready));
        assert_eq!(
            Frame::parse(br#"{"event":"begin","case":1}"#),
            Ok(Frame::Begin { case: 1 })
        );
        assert_eq!(
            Frame::parse(br#"{"event":"load_error","error":{"message":"m"}}"#)
                .map(|frame| frame.event().to_string()),
            Ok("load_error".to_string())
        );
        assert_eq!(
            Frame::parse(br#"{"event":"new"}"#),
            Ok(Frame::Other("new".into()))
        );
    }

    #[test]
    fn bad_text_and_bad_shapes_are_told_apart() {
        assert!(matches!(
            Frame::parse(b"{\"event\":"),
            Err(FrameError::NotJson(_))
        ));
        assert!(matches!(
            Frame::parse(br#"{"event":"end","case":0,"ok":true,"value":NaN}"#),
            Err(FrameError::NotJson(_))
        ));
        assert!(matches!(
            Frame::parse(br#"{"event":"begin"}"#),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            Frame::parse(br#"{"event":"end","case":"0"}"#),
            Err(FrameError::Malformed(_))
        ));
        let huge_exit = br#"{"event":"end","case":0,"ok":true,"exit":1e30}"#;
        let Ok(Frame::End(end)) = Frame::parse(huge_exit) else {
            panic!("an end frame");
        };
        assert_eq!(end.exit, Some(i32::MAX));
    }

    #[test]
    fn an_unknown_event_is_kept_whatever_its_fields_hold() {
        for body in [
            br#"{"event":"progress","case":"a"}"#.as_slice(),
            br#"{"event":"x","status":"xfail"}"#,
        ] {
            assert!(
                matches!(Frame::parse(body), Ok(Frame::Other(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_single_report_must_be_one_end_frame_written_last() {
        let (out, end) = split_last(
            b"hello\n\n\x1eabc {\"event\":\"end\",\"case\":0,\"ok\":true,\"value\":[1,2]}\n",
            "abc",
        )
        .unwrap();
        assert_eq!(out, b"hello\n");
        assert_eq!(end.value, Value::from(serde_json::json!([1, 2])));
        let twice =
            b"\n\x1eabc {\"event\":\"end\",\"case\":0}\n\n\x1eabc {\"event\":\"end\",\"case\":0}\n";
        assert!(split_last(twice, "abc").is_err());
        assert!(split_last(b"\n\x1eabc {\"event\":\"end\",\"case\":0}\nmore", "abc").is_err());
        assert!(split_last(b"no frame", "abc").is_err());
        assert!(split_last(b"\n\x1eabc {\"event\":\"ready\"}\n", "abc").is_err());
        assert!(split_last(b"\n\x1ezzz 1\n", "abc").is_err());
    }
}
