//! Values a learner's program returns (and the values tests expect), kept exactly.
//!
//! JSON is the wire format between the sandbox and the host, but `serde_json::Value`
//! turns an integer beyond 64 bits into an `f64`: `21!` and `21! + 1` would compare
//! equal, and a float would pass for an integer. Here an integer of any size stays an
//! integer (`Int`, or `BigInt` beyond `i64`), a float stays a float, and the two never
//! compare equal without a tolerance (`grading`). JSON text is parsed with `jiter`, which
//! keeps big integers exact; it is written with big integers as plain JSON numbers, so
//! stored results and API answers show them as they are.
//!
//! Every piece of verdict that holds such a value (observations, expected values, stored
//! results) reads and writes it as text through this type, never through
//! `serde_json::Value`.

use num_bigint::BigInt;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A JSON value with exact integers.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`; never one that fits (`Value::integer` normalises).
    BigInt(BigInt),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

static NULL: Value = Value::Null;

impl Value {
    /// Parses JSON text. Integers keep every digit; `NaN` and `Infinity` are refused.
    pub fn parse(text: &[u8]) -> Result<Value, String> {
        let value = jiter::JsonValue::parse(text, false).map_err(|error| error.to_string())?;
        Value::from_jiter(&value)
    }

    fn from_jiter(value: &jiter::JsonValue<'_>) -> Result<Value, String> {
        use jiter::JsonValue as J;
        Ok(match value {
            J::Null => Value::Null,
            J::Bool(value) => Value::Bool(*value),
            J::Int(value) => Value::Int(*value),
            J::BigInt(value) => Value::integer(value.clone()),
            // `1e400` parses as infinity: not a number JSON can hold.
            J::Float(value) if !value.is_finite() => {
                return Err("a number is too large for a float".to_string());
            }
            J::Float(value) => Value::Float(*value),
            J::Str(value) => Value::Str(value.to_string()),
            J::Array(items) => Value::List(
                items
                    .iter()
                    .map(Value::from_jiter)
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| Ok((key.to_string(), Value::from_jiter(item)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// An integer, as `Int` when it fits in `i64`.
    pub fn integer(value: BigInt) -> Value {
        match i64::try_from(&value) {
            Ok(small) => Value::Int(small),
            Err(_) => Value::BigInt(value),
        }
    }

    /// A map from `(key, value)` pairs.
    pub fn object<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        )
    }

    /// A string value.
    pub fn str(text: impl Into<String>) -> Value {
        Value::Str(text.into())
    }

    /// JSON text (compact).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a value serializes")
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|value| u64::try_from(value).ok())
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&Vec<Value>> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The member `key` of a map, or `None`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|entries| entries.get(key))
    }

    /// A number as `f64` (big integers rounded), for comparisons within a tolerance.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(value) => Some(*value as f64),
            Value::BigInt(value) => value.to_string().parse().ok(),
            Value::Float(value) => Some(*value),
            _ => None,
        }
    }

    /// Whether the value is a number (an integer or a float).
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Int(_) | Value::BigInt(_) | Value::Float(_))
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;

    /// The member `key`, or null (as `serde_json::Value` indexes).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::str(text)
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Str(text)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::List(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(entries)
    }
}

/// From a `serde_json::Value` (a manifest's TOML, a `json!` literal): its integers fit
/// 64 bits already, so nothing is lost.
impl From<&serde_json::Value> for Value {
    fn from(value: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match value {
            J::Null => Value::Null,
            J::Bool(value) => Value::Bool(*value),
            J::Number(number) => match (number.as_i64(), number.as_u64()) {
                (Some(value), _) => Value::Int(value),
                (None, Some(value)) => Value::BigInt(BigInt::from(value)),
                _ => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(text) => Value::Str(text.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from).collect()),
            J::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), Value::from(item)))
                    .collect(),
            ),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        Value::from(&value)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(value) => serializer.serialize_bool(*value),
            Value::Int(value) => serializer.serialize_i64(*value),
            // Written as the number it is: JSON has no size limit on integers.
            Value::BigInt(value) => serde_json::value::RawValue::from_string(value.to_string())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
            Value::Float(value) => serializer.serialize_f64(*value),
            Value::Str(text) => serializer.serialize_str(text),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    map.serialize_entry(key, item)?;
                }
                map.end()
            }
        }
    }
}

/// Read from JSON text only (the database, an API body): the raw text is parsed here, so
/// no integer passes through `f64` on the way.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Value::parse(raw.get().as_bytes()).map_err(D::Error::custom)
    }
}

impl utoipa::PartialSchema for Value {
    /// Any JSON value.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Object::new().into()
    }
}

impl utoipa::ToSchema for Value {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_every_digit_and_floats_stay_floats() {
        let factorial_21 = "51090942171709440000";
        let value = Value::parse(
            format!("[{factorial_21}, 51090942171709440001, 3, 3.0, -0.0, 1e400]").as_bytes(),
        );
        assert!(value.is_err(), "1e400 is not a finite number");
        let value =
            Value::parse(format!("[{factorial_21}, 51090942171709440001, 3, 3.0]").as_bytes())
                .unwrap();
        let items = value.as_list().unwrap();
        assert_ne!(items[0], items[1], "21! and 21! + 1 differ");
        assert_eq!(items[2], Value::Int(3));
        assert_eq!(items[3], Value::Float(3.0));
        assert_ne!(items[2], items[3], "an integer is not a float");
        assert_eq!(
            value.to_json(),
            format!("[{factorial_21},51090942171709440001,3,3.0]")
        );
    }

    #[test]
    fn stored_text_round_trips_exactly() {
        #[derive(Serialize, Deserialize)]
        struct Stored {
            expected: Value,
            other: Option<Value>,
        }
        let text = r#"{"expected":{"n":[123456789012345678901234567890,-9223372036854775809]},"other":null}"#;
        let stored: Stored = serde_json::from_str(text).unwrap();
        assert_eq!(
            stored.expected["n"].as_list().unwrap()[1],
            Value::BigInt("-9223372036854775809".parse().unwrap())
        );
        assert_eq!(serde_json::to_string(&stored).unwrap(), text);
    }

    #[test]
    fn small_big_integers_are_normalised() {
        assert_eq!(Value::integer(BigInt::from(5)), Value::Int(5));
        assert_eq!(
            Value::parse(b"9223372036854775807").unwrap(),
            Value::Int(i64::MAX)
        );
    }
}
