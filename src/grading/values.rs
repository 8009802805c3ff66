//! Values against values: function results, JSON subsets, and query rows in order or
//! in any order. Integers compare exactly, at any size. Also the short preview of a
//! value that messages show.

use crate::domain::Value;

/// `want` is found in `got`: objects may hold more keys, arrays match item by item with
/// the same length, and scalars compare as in `values_equal`.
pub fn json_subset(want: &Value, got: &Value, tolerance: Option<f64>) -> bool {
    match (want, got) {
        (Value::Map(want), Value::Map(got)) => want
            .iter()
            .all(|(key, w)| got.get(key).is_some_and(|g| json_subset(w, g, tolerance))),
        (Value::List(want), Value::List(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .zip(got)
                    .all(|(w, g)| json_subset(w, g, tolerance))
        }
        _ => values_equal(want, got, tolerance),
    }
}

/// A short rendering of a value for a message.
pub(super) fn preview(value: &Value) -> String {
    let text = value.to_json();
    if text.len() > 300 {
        format!("{}…", &text[..text.floor_char_boundary(300)])
    } else {
        text
    }
}

/// Equality of JSON values for grading. Integers compare exactly, at any size; floats
/// compare exactly, or within `tolerance` when the test sets one. An integer and a float
/// are never equal unless the test sets a tolerance (then they compare as numbers): a
/// float cannot pass for an exact integer. Booleans are not numbers, and object keys
/// must match exactly.
pub fn values_equal(expected: &Value, actual: &Value, tolerance: Option<f64>) -> bool {
    match (expected, actual) {
        (Value::Int(_) | Value::BigInt(_), Value::Int(_) | Value::BigInt(_))
            if tolerance.is_none() =>
        {
            expected == actual
        }
        (Value::Float(want), Value::Float(got)) if tolerance.is_none() => want == got,
        (want, got) if want.is_number() && got.is_number() => match tolerance {
            None => false,
            Some(tolerance) => {
                let (want, got) = (
                    want.as_f64().unwrap_or(f64::NAN),
                    got.as_f64().unwrap_or(f64::NAN),
                );
                want == got || (want - got).abs() <= tolerance
            }
        },
        (Value::List(want), Value::List(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .zip(got)
                    .all(|(w, g)| values_equal(w, g, tolerance))
        }
        (Value::Map(want), Value::Map(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .all(|(key, w)| got.get(key).is_some_and(|g| values_equal(w, g, tolerance)))
        }
        _ => expected == actual,
    }
}

/// Compares query results: in order, or as a multiset of rows.
pub(super) fn compare_rows(
    expected: &Value,
    actual: &Value,
    ordered: bool,
    tolerance: Option<f64>,
) -> Result<(), String> {
    let (Some(want), Some(got)) = (expected.as_list(), actual.as_list()) else {
        return Err("the query returned no rows".to_string());
    };
    if want.len() != got.len() {
        return Err(format!("expected {} rows, got {}", want.len(), got.len()));
    }
    if ordered {
        for (index, (w, g)) in want.iter().zip(got).enumerate() {
            if !values_equal(w, g, tolerance) {
                return Err(format!(
                    "row {}: expected {}, got {} (rows are compared in order)",
                    index + 1,
                    preview(w),
                    preview(g)
                ));
            }
        }
        return Ok(());
    }
    let mut unmatched: Vec<&Value> = got.iter().collect();
    for w in want {
        match unmatched.iter().position(|g| values_equal(w, g, tolerance)) {
            Some(at) => {
                unmatched.swap_remove(at);
            }
            None => {
                return Err(format!(
                    "the row {} is missing from the result (rows are compared in any order)",
                    preview(w)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: serde_json::Value) -> Value {
        Value::from(value)
    }

    fn exact(text: &str) -> Value {
        Value::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn values_compare_as_json_with_exact_integers() {
        use serde_json::json;
        assert!(values_equal(&v(json!([1, 2.0])), &v(json!([1, 2.0])), None));
        assert!(
            !values_equal(&v(json!([1, 2.0])), &v(json!([1.0, 2])), None),
            "an integer is not a float without a tolerance"
        );
        assert!(
            values_equal(&v(json!([1, 2.0])), &v(json!([1.0, 2])), Some(0.0)),
            "with a tolerance they compare as numbers"
        );
        assert!(!values_equal(&v(json!(true)), &v(json!(1)), None));
        assert!(!values_equal(
            &v(json!({"a": 1})),
            &v(json!({"a": 1, "b": 2})),
            None
        ));
        assert!(values_equal(
            &v(json!(0.1)),
            &v(json!(0.1000001)),
            Some(1e-6)
        ));
        assert!(!values_equal(&v(json!(0.1)), &v(json!(0.2)), Some(1e-6)));
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["b", 2]])),
                &v(json!([["b", 2], ["a", 1]])),
                false,
                None
            )
            .is_ok()
        );
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["b", 2]])),
                &v(json!([["b", 2], ["a", 1]])),
                true,
                None
            )
            .is_err()
        );
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["a", 1]])),
                &v(json!([["a", 1], ["b", 1]])),
                false,
                None
            )
            .is_err()
        );
    }

    /// The review's findings: n! + 1 scored as n!, float(n!) passed for n!, and a float
    /// sum passed for an exact integer above 2^53.
    #[test]
    fn integers_beyond_64_bits_compare_exactly() {
        let factorial_25 = "15511210043330985984000000";
        let plus_one = "15511210043330985984000001";
        assert!(values_equal(
            &exact(factorial_25),
            &exact(factorial_25),
            None
        ));
        assert!(!values_equal(&exact(factorial_25), &exact(plus_one), None));
        assert!(
            !values_equal(&exact(factorial_25), &exact("1.5511210043330986e+25"), None),
            "float(25!) is not 25!"
        );
        assert!(
            !values_equal(
                &exact("9007199254740993"),
                &exact("9007199254740992.0"),
                None
            ),
            "a float sum is not the integer above 2^53"
        );
        assert!(!values_equal(
            &exact("9007199254740993"),
            &exact("9007199254740992"),
            None
        ));
        assert!(values_equal(
            &exact("[-170141183460469231731687303715884105728]"),
            &exact("[-170141183460469231731687303715884105728]"),
            None
        ));
    }
}
