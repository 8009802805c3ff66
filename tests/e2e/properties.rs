//! Property tests of the result channel: whatever value a learner's function returns,
//! and whatever message it raises, through the real Python and JavaScript harnesses in
//! the real wasm runner, the grading is a learner outcome (never an infrastructure
//! error), every value that JSON can hold comes back exactly (integers of any size
//! included), and every other value is that test's runtime error.

use crate::common::{MAXIMA, resolved_exercise, resolved_test, wasm_runner};
use num_bigint::BigInt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use verdict::domain::{
    Kind, Language, ResolvedExercise, ResolvedTest, RunnerKind, TestStatus, Value,
};

/// A value a learner's function might return, in a form both languages can write.
#[derive(Debug, Clone)]
enum Gen {
    None,
    Bool(bool),
    Int(BigInt),
    Float(f64),
    /// Code points, lone surrogates (U+D800–U+DFFF) included.
    Str(Vec<u32>),
    List(Vec<Gen>),
    Tuple(Vec<Gen>),
    Map(Vec<(Vec<u32>, Gen)>),
    /// Not JSON in either language (of integers, which both can hash).
    Set(Vec<BigInt>),
}

/// One test: the function returns a value, or raises an error with a message.
#[derive(Debug, Clone)]
enum Case {
    Return(Gen),
    Raise(Vec<u32>),
}

fn code_points() -> impl Strategy<Value = Vec<u32>> {
    let point = prop_oneof![
        6 => 0x20u32..0x7f,
        1 => 0u32..0x20,
        2 => 0x80u32..0xd800,
        2 => 0xd800u32..0xe000,
        1 => 0xe000u32..0x11_0000,
    ];
    prop::collection::vec(point, 0..12)
}

fn integers() -> impl Strategy<Value = BigInt> {
    prop_oneof![
        any::<i64>().prop_map(BigInt::from),
        (any::<bool>(), "[1-9][0-9]{15,60}").prop_map(|(negative, digits)| {
            let magnitude: BigInt = digits.parse().unwrap();
            if negative { -magnitude } else { magnitude }
        }),
    ]
}

fn values() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::None),
        any::<bool>().prop_map(Gen::Bool),
        integers().prop_map(Gen::Int),
        any::<f64>().prop_map(Gen::Float),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(3.0)]
            .prop_map(Gen::Float),
        code_points().prop_map(Gen::Str),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Gen::List),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Gen::Tuple),
            prop::collection::vec((code_points(), inner.clone()), 0..3).prop_map(Gen::Map),
            prop::collection::vec(integers(), 0..2).prop_map(Gen::Set),
        ]
    })
}

fn cases() -> impl Strategy<Value = Vec<Case>> {
    let case = prop_oneof![
        4 => values().prop_map(Case::Return),
        1 => code_points().prop_map(Case::Raise),
    ];
    prop::collection::vec(case, 1..16)
}

fn ints(items: &[BigInt]) -> Vec<Gen> {
    items.iter().cloned().map(Gen::Int).collect()
}

/// A string literal: every character escaped, so any code point survives the source.
fn python_str(points: &[u32]) -> String {
    let escaped: String = points.iter().map(|p| format!("\\U{p:08x}")).collect();
    format!("\"{escaped}\"")
}

fn js_str(points: &[u32]) -> String {
    let escaped: String = points
        .iter()
        .map(|&p| {
            if p > 0xffff {
                format!("\\u{{{p:x}}}")
            } else {
                format!("\\u{p:04x}")
            }
        })
        .collect();
    format!("\"{escaped}\"")
}

fn float_literal(value: f64, nan: &str, infinity: &str) -> String {
    if value.is_nan() {
        nan.to_string()
    } else if value.is_infinite() {
        format!("{}{infinity}", if value < 0.0 { "-" } else { "" })
    } else {
        format!("{value:?}")
    }
}

fn python_source(value: &Gen) -> String {
    let join = |items: &[Gen]| {
        items
            .iter()
            .map(python_source)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match value {
        Gen::None => "None".into(),
        Gen::Bool(value) => if *value { "True" } else { "False" }.into(),
        Gen::Int(value) => format!("({value})"),
        Gen::Float(value) => float_literal(*value, "float('nan')", "float('inf')"),
        Gen::Str(points) => python_str(points),
        Gen::List(items) => format!("[{}]", join(items)),
        Gen::Tuple(items) => format!("({},)", join(items)).replace("(,)", "()"),
        Gen::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(key, item)| format!("{}: {}", python_str(key), python_source(item)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Gen::Set(items) => format!("frozenset([{}])", join(&ints(items))),
    }
}

fn js_source(value: &Gen) -> String {
    let join = |items: &[Gen]| items.iter().map(js_source).collect::<Vec<_>>().join(", ");
    match value {
        Gen::None => "null".into(),
        Gen::Bool(value) => value.to_string(),
        // A Number holds an integer exactly up to 2^53; beyond, a BigInt does.
        Gen::Int(value) if value.bits() < 53 => format!("({value})"),
        Gen::Int(value) => format!("({value}n)"),
        Gen::Float(value) => format!("({})", float_literal(*value, "NaN", "Infinity")),
        Gen::Str(points) => js_str(points),
        Gen::List(items) | Gen::Tuple(items) => format!("[{}]", join(items)),
        // Computed keys: an own property even for "__proto__".
        Gen::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(key, item)| format!("[{}]: {}", js_str(key), js_source(item)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Gen::Set(items) => format!("new Set([{}])", join(&ints(items))),
    }
}

/// Python's str: code points, so any surrogate makes it invalid text.
fn python_text(points: &[u32]) -> Option<String> {
    points.iter().map(|&p| char::from_u32(p)).collect()
}

/// JavaScript's string: UTF-16 code units, where a surrogate pair is one character and
/// only an unpaired surrogate is invalid.
fn js_text(points: &[u32]) -> Option<String> {
    let units: Vec<u16> = points
        .iter()
        .flat_map(|&p| match char::from_u32(p) {
            Some(c) => c.encode_utf16(&mut [0; 2]).to_vec(),
            None => vec![p as u16],
        })
        .collect();
    String::from_utf16(&units).ok()
}

/// The value the host must observe for `value`, or `None` when it is not JSON (so the
/// test must be a runtime error).
fn expected(value: &Gen, language: Language) -> Option<Value> {
    let text = |points: &[u32]| match language {
        Language::Python => python_text(points),
        _ => js_text(points),
    };
    let list = |items: &[Gen]| {
        items
            .iter()
            .map(|item| expected(item, language))
            .collect::<Option<Vec<_>>>()
            .map(Value::List)
    };
    match value {
        Gen::None => Some(Value::Null),
        Gen::Bool(value) => Some(Value::Bool(*value)),
        Gen::Int(value) => Some(Value::integer(value.clone())),
        Gen::Float(value) if !value.is_finite() => None,
        // A JavaScript Number that is an integer below 2^53 is written as one.
        Gen::Float(value)
            if language == Language::Javascript
                && value.fract() == 0.0
                && value.abs() < 9_007_199_254_740_992.0 =>
        {
            Some(Value::Int(*value as i64))
        }
        Gen::Float(value) => Some(Value::Float(*value)),
        Gen::Str(points) => text(points).map(Value::Str),
        Gen::List(items) | Gen::Tuple(items) => list(items),
        Gen::Map(entries) => {
            let mut map = BTreeMap::new();
            for (key, item) in entries {
                map.insert(text(key)?, expected(item, language)?);
            }
            Some(Value::Map(map))
        }
        Gen::Set(_) => None,
    }
}

fn program(cases: &[Case], language: Language) -> String {
    let entries: Vec<String> = cases
        .iter()
        .map(|case| match (case, language) {
            (Case::Return(value), Language::Python) => {
                format!("(\"return\", {})", python_source(value))
            }
            (Case::Raise(message), Language::Python) => {
                format!("(\"raise\", {})", python_str(message))
            }
            (Case::Return(value), _) => format!("[\"return\", {}]", js_source(value)),
            (Case::Raise(message), _) => format!("[\"raise\", {}]", js_str(message)),
        })
        .collect();
    match language {
        Language::Python => format!(
            "CASES = [\n    {}\n]\n\ndef solve(i):\n    kind, value = CASES[i]\n    if kind == \"raise\":\n        raise ValueError(value)\n    return value\n",
            entries.join(",\n    ")
        ),
        _ => format!(
            "const CASES = [\n  {}\n];\n\nexport function solve(i) {{\n  const [kind, value] = CASES[i];\n  if (kind === \"raise\") throw new Error(value);\n  return value;\n}}\n",
            entries.join(",\n  ")
        ),
    }
}

fn exercise(cases: &[Case], language: Language) -> ResolvedExercise {
    let entrypoint = match language {
        Language::Python => "values.py",
        _ => "values.js",
    };
    let tests = cases
        .iter()
        .enumerate()
        .map(|(index, case)| ResolvedTest {
            args: Some(vec![Value::Int(index as i64)]),
            expected: match case {
                Case::Return(value) => expected(value, language),
                Case::Raise(_) => None,
            },
            ..resolved_test(&format!("value {index}"))
        })
        .collect();
    resolved_exercise(
        language,
        Kind::Function,
        RunnerKind::Wasm,
        entrypoint,
        tests,
    )
}

/// Grades one batch and checks every test: a JSON value passes (it came back exactly),
/// anything else is an error; never an infrastructure fault.
async fn check(
    runner: &verdict::runner::wasm::WasmRunner,
    cases: &[Case],
    language: Language,
) -> Result<(), TestCaseError> {
    let exercise = exercise(cases, language);
    let files = BTreeMap::from([(
        exercise.entrypoint.clone(),
        program(cases, language).into_bytes(),
    )]);
    let grade = verdict::exercise::grade_files(&exercise, files, runner, &MAXIMA)
        .await
        .map_err(|error| TestCaseError::fail(format!("an infrastructure error: {error}")))?;
    for ((case, test), result) in cases.iter().zip(&exercise.tests).zip(&grade.0.tests) {
        let wanted = match (case, &test.expected) {
            (Case::Return(_), Some(_)) => TestStatus::Passed,
            _ => TestStatus::Error,
        };
        prop_assert_eq!(
            result.status,
            wanted,
            "{:?} {:?}: {:?} expected {:?}",
            language,
            case,
            result,
            test.expected
        );
    }
    Ok(())
}

#[test]
fn any_returned_value_or_raised_message_is_a_learner_outcome() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runner = runtime.block_on(async { wasm_runner() });
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    for language in [Language::Python, Language::Javascript] {
        let mut proptest = TestRunner::new(config.clone());
        let outcome = proptest.run(&cases(), |cases| {
            runtime.block_on(check(&runner, &cases, language))
        });
        if let Err(failure) = outcome {
            panic!("{language:?}: {failure}");
        }
    }
}
