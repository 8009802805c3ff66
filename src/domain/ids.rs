//! Identifiers and names that arrive from outside (a request, a token, a manifest): each is
//! a newtype with one `parse`, so a value of the type has already been checked and no
//! layer behind the edge checks it again.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused; the text is shown to whoever sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(pub String);

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidName {}

/// The traits every checked name shares: read as a `str`, written and read by serde as a
/// plain string (so what is stored does not change), and parsed again when deserialised.
macro_rules! checked_name {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;
            fn from_str(text: &str) -> Result<Self, InvalidName> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(text: String) -> Result<Self, InvalidName> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

/// Whether `text` is 1..=`max` bytes, each allowed by `byte`.
fn spelled(text: &str, max: usize, byte: impl Fn(u8) -> bool) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(byte)
}

/// A learner id: what an LMS or school uses, kept to a safe alphabet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LearnerId(String);
checked_name!(LearnerId);

impl LearnerId {
    pub fn parse(text: &str) -> Result<LearnerId, InvalidName> {
        let byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@');
        if spelled(text, 128, byte) {
            Ok(LearnerId(text.to_string()))
        } else {
            Err(InvalidName(
                "a learner id is 1-128 characters of letters, digits, '.', '_', '-' and '@'".into(),
            ))
        }
    }
}

/// An exercise slug: the name in URLs, in the course policy and in every stored row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExerciseSlug(String);
checked_name!(ExerciseSlug);

impl ExerciseSlug {
    pub fn parse(text: &str) -> Result<ExerciseSlug, InvalidName> {
        let byte = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if spelled(text, 64, byte) {
            Ok(ExerciseSlug(text.to_string()))
        } else {
            Err(InvalidName(format!(
                "must match [a-z0-9-]+ and be at most 64 characters, got {text:?}"
            )))
        }
    }
}

/// A learner file name: one plain path component, no folders and no dot files, so it can
/// be written into a sandbox's folder without resolving anything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);
checked_name!(FileName);

impl FileName {
    pub fn parse(text: &str) -> Result<FileName, InvalidName> {
        let byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if spelled(text, 128, byte) && !text.starts_with('.') {
            Ok(FileName(text.to_string()))
        } else {
            Err(InvalidName(format!(
                "{text:?} is not a valid file name (letters, digits, '.', '_' and '-' only, not starting with '.')"
            )))
        }
    }
}

/// A submission id: a UUID (v7, so ids sort by time) in its lowercase hyphenated form,
/// the only form verdict writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubmissionId(String);
checked_name!(SubmissionId);

impl SubmissionId {
    /// A new id, later than every id made before it in this process.
    pub fn new() -> SubmissionId {
        SubmissionId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    pub fn parse(text: &str) -> Result<SubmissionId, InvalidName> {
        match uuid::Uuid::try_parse(text) {
            Ok(id) if id.hyphenated().to_string() == text => Ok(SubmissionId(text.to_string())),
            _ => Err(InvalidName(format!(
                "{text:?} is not a submission id (a lowercase hyphenated UUID)"
            ))),
        }
    }
}

impl Default for SubmissionId {
    fn default() -> SubmissionId {
        SubmissionId::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_ids_keep_to_their_alphabet() {
        assert!(LearnerId::parse("ada.lovelace@school-1_x").is_ok());
        for bad in ["", "a b", "a/b", "ü", &"a".repeat(129)] {
            assert!(LearnerId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert!(ExerciseSlug::parse("python-leap-2").is_ok());
        for bad in ["", "Leap", "leap_year", "a.b", &"a".repeat(65)] {
            assert!(ExerciseSlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names_are_one_plain_component() {
        assert!(FileName::parse("leap.py").is_ok());
        for bad in [
            "",
            ".hidden",
            "..",
            "a/b.py",
            "a\\b",
            "b\0",
            &"a".repeat(129),
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn submission_ids_are_the_form_verdict_writes() {
        let id = SubmissionId::new();
        assert_eq!(SubmissionId::parse(id.as_str()), Ok(id.clone()));
        let upper = id.as_str().to_uppercase();
        for bad in [
            "",
            "42",
            "not-a-uuid",
            upper.as_str(),
            id.as_str().replace('-', "").as_str(),
        ] {
            assert!(SubmissionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_parses_on_the_way_in() {
        let slug: ExerciseSlug = serde_json::from_str("\"shout\"").unwrap();
        assert_eq!(serde_json::to_string(&slug).unwrap(), "\"shout\"");
        assert!(serde_json::from_str::<ExerciseSlug>("\"Shout\"").is_err());
    }
}
