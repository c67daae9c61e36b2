use serde::{Deserialize, Serialize};

/// What a user may do. Every registered user is a customer; admins are granted by the
/// identity context's bootstrap command, never through an HTTP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    /// The role's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_lowercase_strings_on_the_wire() {
        let json = serde_json::to_string(&[Role::Customer, Role::Admin]).expect("serialise");
        assert_eq!(json, r#"["customer","admin"]"#);
        let back: Vec<Role> = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, [Role::Customer, Role::Admin]);
    }
}
