//! Who calls: the roles a token carries.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Instructor,
    Learner,
    Integration,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Instructor => "instructor",
            Role::Learner => "learner",
            Role::Integration => "integration",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::Instructor,
            Role::Learner,
            Role::Integration,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }

    /// The token prefix, so a leaked token says what it is (and secret scanners can find it).
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Admin => "vdt_adm_",
            Role::Instructor => "vdt_ins_",
            Role::Learner => "vdt_lrn_",
            Role::Integration => "vdt_int_",
        }
    }
}
