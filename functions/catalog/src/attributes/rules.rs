//! The rules of category attributes, without I/O: what an attribute's type, name and options
//! may be, which attributes apply to a category, and what values a product may give them.

use std::collections::{BTreeMap, BTreeSet};

/// The most options an ENUM attribute may offer: enough for sizes and colours, few enough to
/// show as a filter.
pub const MAX_ENUM_OPTIONS: usize = 50;
/// The longest value the database keeps (`product_attribute_value.value`).
pub const MAX_VALUE_CHARS: usize = 200;
/// A NUMBER has at most this many digits, so it always fits a value and means one number.
const MAX_NUMBER_DIGITS: usize = 38;

/// A definition or value that breaks one of the attribute rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAttribute {
    #[error("must be one of STRING, NUMBER, ENUM, BOOLEAN")]
    Type,
    #[error("must be 1 to 60 characters")]
    Name,
    #[error("an ENUM needs 1 to {max} distinct options of 1 to 100 characters", max = MAX_ENUM_OPTIONS)]
    EnumOptions,
    #[error("only an ENUM has options")]
    OptionsWithoutEnum,
    #[error("must be a decimal number such as 42, -1.5 or 0.25")]
    Number,
    #[error("must be true or false")]
    Boolean,
    #[error("must be one of: {0}")]
    NotAnOption(String),
    #[error("must be 1 to {max} characters", max = MAX_VALUE_CHARS)]
    String,
    #[error("no such attribute for this product's category")]
    UnknownAttribute,
    #[error("the attribute is given more than once")]
    GivenTwice,
}

/// What kind of value an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Number,
    Enum,
    Boolean,
}

impl AttributeType {
    pub fn parse(value: &str) -> Result<Self, InvalidAttribute> {
        match value {
            "STRING" => Ok(Self::String),
            "NUMBER" => Ok(Self::Number),
            "ENUM" => Ok(Self::Enum),
            "BOOLEAN" => Ok(Self::Boolean),
            _ => Err(InvalidAttribute::Type),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "STRING",
            Self::Number => "NUMBER",
            Self::Enum => "ENUM",
            Self::Boolean => "BOOLEAN",
        }
    }
}

/// An attribute's name, trimmed, 1 to 60 characters.
pub fn attribute_name(value: &str) -> Result<String, InvalidAttribute> {
    let trimmed = value.trim();
    if (1..=60).contains(&trimmed.chars().count()) {
        Ok(trimmed.to_owned())
    } else {
        Err(InvalidAttribute::Name)
    }
}

/// The options an attribute of `kind` keeps: for an ENUM 1 to 50 trimmed, distinct (ignoring
/// case, as the database compares them) options; for any other type none at all, since a
/// list nobody checks would only mislead.
pub fn attribute_options(
    kind: AttributeType,
    options: Option<&[String]>,
) -> Result<Vec<String>, InvalidAttribute> {
    match (kind, options) {
        (AttributeType::Enum, Some(options)) => {
            let trimmed: Vec<String> = options.iter().map(|option| option.trim().to_owned()).collect();
            let mut seen = BTreeSet::new();
            let valid = (1..=MAX_ENUM_OPTIONS).contains(&trimmed.len())
                && trimmed.iter().all(|option| {
                    (1..=100).contains(&option.chars().count()) && seen.insert(option.to_lowercase())
                });
            if valid {
                Ok(trimmed)
            } else {
                Err(InvalidAttribute::EnumOptions)
            }
        }
        (AttributeType::Enum, None) => Err(InvalidAttribute::EnumOptions),
        (_, None) => Ok(Vec::new()),
        (_, Some([])) => Ok(Vec::new()),
        (_, Some(_)) => Err(InvalidAttribute::OptionsWithoutEnum),
    }
}

/// An attribute as stored: defined by one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub attribute_id: i64,
    pub category_id: String,
    pub name: String,
    pub kind: AttributeType,
    pub required: bool,
    /// ENUM only, in the admin's order.
    pub options: Vec<String>,
    pub position: i32,
}

impl Attribute {
    /// Reads a value for this attribute and answers it normalized, as it is stored and
    /// compared: a NUMBER as its shortest decimal (`007.50` is `7.5`), a BOOLEAN in lowercase,
    /// an ENUM in its option's own spelling, a STRING trimmed.
    pub fn normalize(&self, value: &str) -> Result<String, InvalidAttribute> {
        let value = value.trim();
        match self.kind {
            AttributeType::String => {
                if (1..=MAX_VALUE_CHARS).contains(&value.chars().count()) {
                    Ok(value.to_owned())
                } else {
                    Err(InvalidAttribute::String)
                }
            }
            AttributeType::Number => normalize_number(value),
            AttributeType::Boolean => match value.to_ascii_lowercase().as_str() {
                "true" => Ok("true".to_owned()),
                "false" => Ok("false".to_owned()),
                _ => Err(InvalidAttribute::Boolean),
            },
            AttributeType::Enum => self
                .options
                .iter()
                .find(|option| option.to_lowercase() == value.to_lowercase())
                .cloned()
                .ok_or_else(|| InvalidAttribute::NotAnOption(self.options.join(", "))),
        }
    }
}

/// A decimal number without exponent or `+`, normalized: no leading zeros in the whole part,
/// no trailing zeros in the fraction, no fraction point without a fraction, and no `-0`.
fn normalize_number(value: &str) -> Result<String, InvalidAttribute> {
    let (negative, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && !(unsigned.contains('.') && fraction.is_empty())
        && whole.len() + fraction.len() <= MAX_NUMBER_DIGITS;
    if !well_formed {
        return Err(InvalidAttribute::Number);
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let mut normalized = String::new();
    if negative && !(whole.is_empty() && fraction.is_empty()) {
        normalized.push('-');
    }
    normalized.push_str(if whole.is_empty() { "0" } else { whole });
    if !fraction.is_empty() {
        normalized.push('.');
        normalized.push_str(fraction);
    }
    Ok(normalized)
}

/// An attribute as it applies to one category: its own, or inherited from an ancestor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicable {
    pub attribute: Attribute,
    pub inherited: bool,
}

/// The attributes that apply to a category whose lineage is `lineage` (the category first,
/// then its parent, up to the root): its own and every ancestor's. They are listed from the
/// root down, so general attributes come before specific ones, and within a category by
/// position. Attributes of categories outside the lineage are ignored.
pub fn applicable(lineage: &[String], attributes: Vec<Attribute>) -> Vec<Applicable> {
    let depth = |category: &str| lineage.iter().position(|id| id == category);
    let mut applicable: Vec<(usize, Applicable)> = attributes
        .into_iter()
        .filter_map(|attribute| {
            let depth = depth(&attribute.category_id)?;
            Some((
                depth,
                Applicable {
                    attribute,
                    inherited: depth > 0,
                },
            ))
        })
        .collect();
    applicable.sort_by_key(|(depth, applicable)| {
        (
            std::cmp::Reverse(*depth),
            applicable.attribute.position,
            applicable.attribute.attribute_id,
        )
    });
    applicable.into_iter().map(|(_, applicable)| applicable).collect()
}

/// Whether `name` is free among the names of the attributes a category sees or passes on
/// (its lineage's and its descendants'), ignoring case as the database does: two attributes
/// of one name on a product page could not be told apart.
pub fn name_is_free<'a>(name: &str, taken: impl IntoIterator<Item = &'a str>) -> bool {
    let name = name.to_lowercase();
    taken.into_iter().all(|taken| taken.to_lowercase() != name)
}

/// Why a product's values were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuesRejected {
    /// Values that break a rule, each with the index of its entry in the request and whether
    /// the entry's attribute id (rather than its value) is at fault.
    Invalid(Vec<InvalidEntry>),
    /// Every value is valid, but these required attributes (by name) have none.
    MissingRequired(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry {
    pub index: usize,
    pub attribute_field: bool,
    pub problem: InvalidAttribute,
}

/// Checks a product's complete set of values, given as (attribute id, raw value), against the
/// attributes that apply to its category, and answers them normalized by attribute id. Every
/// given value must belong to an applicable attribute, once, and be valid for it; every
/// required attribute must have one. Bad entries are reported before missing ones, because a
/// client fixing a typo may be about to supply the missing value too.
pub fn check_values(
    applicable: &[Applicable],
    given: &[(i64, String)],
) -> Result<BTreeMap<i64, String>, ValuesRejected> {
    let by_id: BTreeMap<i64, &Attribute> = applicable
        .iter()
        .map(|applicable| (applicable.attribute.attribute_id, &applicable.attribute))
        .collect();
    let mut values = BTreeMap::new();
    let mut invalid = Vec::new();
    for (index, (attribute_id, raw)) in given.iter().enumerate() {
        let mut refuse = |attribute_field, problem| {
            invalid.push(InvalidEntry {
                index,
                attribute_field,
                problem,
            })
        };
        let Some(attribute) = by_id.get(attribute_id) else {
            refuse(true, InvalidAttribute::UnknownAttribute);
            continue;
        };
        if values.contains_key(attribute_id) {
            refuse(true, InvalidAttribute::GivenTwice);
            continue;
        }
        match attribute.normalize(raw) {
            Ok(value) => {
                values.insert(*attribute_id, value);
            }
            Err(problem) => {
                // Remembered as given, so a second entry for it is reported as a repeat.
                values.insert(*attribute_id, String::new());
                refuse(false, problem);
            }
        }
    }
    if !invalid.is_empty() {
        return Err(ValuesRejected::Invalid(invalid));
    }
    let missing: Vec<String> = applicable
        .iter()
        .filter(|applicable| applicable.attribute.required)
        .filter(|applicable| !values.contains_key(&applicable.attribute.attribute_id))
        .map(|applicable| applicable.attribute.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ValuesRejected::MissingRequired(missing));
    }
    Ok(values)
}

/// The ENUM options an admin's new list drops, compared as the stored values are spelled.
pub fn removed_options<'a>(old: &'a [String], new: &[String]) -> Vec<&'a str> {
    old.iter()
        .filter(|option| !new.contains(option))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(attribute_id: i64, category: &str, name: &str, kind: AttributeType) -> Attribute {
        Attribute {
            attribute_id,
            category_id: category.to_owned(),
            name: name.to_owned(),
            kind,
            required: false,
            options: Vec::new(),
            position: 0,
        }
    }

    fn colour(attribute_id: i64, category: &str) -> Attribute {
        Attribute {
            options: vec!["Red".to_owned(), "Blue".to_owned()],
            ..attribute(attribute_id, category, "Colour", AttributeType::Enum)
        }
    }

    fn lineage(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn types_are_the_four_of_the_original() {
        for name in ["STRING", "NUMBER", "ENUM", "BOOLEAN"] {
            assert_eq!(AttributeType::parse(name).map(AttributeType::as_str), Ok(name));
        }
        assert_eq!(AttributeType::parse("string"), Err(InvalidAttribute::Type));
        assert_eq!(AttributeType::parse("DATE"), Err(InvalidAttribute::Type));
    }

    #[test]
    fn given_an_enum_when_its_options_are_checked_then_one_to_fifty_distinct_ones_pass() {
        let options = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            attribute_options(AttributeType::Enum, Some(&options(&[" S ", "M"]))),
            Ok(options(&["S", "M"]))
        );
        assert_eq!(
            attribute_options(AttributeType::Enum, Some(&[])),
            Err(InvalidAttribute::EnumOptions)
        );
        assert_eq!(
            attribute_options(AttributeType::Enum, None),
            Err(InvalidAttribute::EnumOptions)
        );
        assert_eq!(
            attribute_options(AttributeType::Enum, Some(&options(&["Red", "red"]))),
            Err(InvalidAttribute::EnumOptions)
        );
        let fifty_one: Vec<String> = (0..51).map(|n| format!("o{n}")).collect();
        assert_eq!(
            attribute_options(AttributeType::Enum, Some(&fifty_one)),
            Err(InvalidAttribute::EnumOptions)
        );
        assert_eq!(
            attribute_options(AttributeType::Enum, Some(&fifty_one[..50])).map(|o| o.len()),
            Ok(50)
        );
    }

    #[test]
    fn given_another_type_when_options_are_given_then_they_are_refused() {
        assert_eq!(attribute_options(AttributeType::Number, None), Ok(Vec::new()));
        assert_eq!(
            attribute_options(AttributeType::String, Some(&[])),
            Ok(Vec::new())
        );
        assert_eq!(
            attribute_options(AttributeType::Boolean, Some(&["yes".to_owned()])),
            Err(InvalidAttribute::OptionsWithoutEnum)
        );
    }

    #[test]
    fn given_a_number_attribute_when_values_are_read_then_they_are_stored_as_their_shortest_decimal() {
        let weight = attribute(1, "c", "Weight", AttributeType::Number);
        for (given, stored) in [
            ("42", "42"),
            ("007.50", "7.5"),
            ("-0.0", "0"),
            ("0.25", "0.25"),
            (" -12.000 ", "-12"),
            ("000", "0"),
        ] {
            assert_eq!(weight.normalize(given), Ok(stored.to_owned()), "{given}");
        }
        for bad in [
            "",
            "-",
            "1.",
            ".5",
            "1e3",
            "+1",
            "1,5",
            "twelve",
            "1.2.3",
            &"9".repeat(39),
        ] {
            assert_eq!(weight.normalize(bad), Err(InvalidAttribute::Number), "{bad}");
        }
    }

    #[test]
    fn given_boolean_enum_and_string_attributes_when_values_are_read_then_each_type_has_its_rule() {
        let wireless = attribute(1, "c", "Wireless", AttributeType::Boolean);
        assert_eq!(wireless.normalize("TRUE"), Ok("true".to_owned()));
        assert_eq!(wireless.normalize("false"), Ok("false".to_owned()));
        assert_eq!(wireless.normalize("yes"), Err(InvalidAttribute::Boolean));

        let colour = colour(2, "c");
        assert_eq!(colour.normalize("blue"), Ok("Blue".to_owned()));
        assert_eq!(
            colour.normalize("Green"),
            Err(InvalidAttribute::NotAnOption("Red, Blue".to_owned()))
        );

        let material = attribute(3, "c", "Material", AttributeType::String);
        assert_eq!(material.normalize("  Oak "), Ok("Oak".to_owned()));
        assert_eq!(material.normalize("   "), Err(InvalidAttribute::String));
        assert_eq!(
            material.normalize(&"x".repeat(201)),
            Err(InvalidAttribute::String)
        );
        assert!(material.normalize(&"가".repeat(200)).is_ok());
    }

    #[test]
    fn given_a_category_tree_when_attributes_apply_then_ancestors_come_first_and_are_inherited() {
        let attributes = vec![
            Attribute {
                position: 1,
                ..attribute(10, "laptops", "Screen", AttributeType::Number)
            },
            Attribute {
                position: 0,
                ..attribute(11, "laptops", "Cpu", AttributeType::String)
            },
            attribute(20, "electronics", "Warranty", AttributeType::Number),
            attribute(30, "phones", "Sim", AttributeType::String),
        ];

        let applied = applicable(&lineage(&["laptops", "electronics"]), attributes);

        let seen: Vec<(i64, bool)> = applied
            .iter()
            .map(|applicable| (applicable.attribute.attribute_id, applicable.inherited))
            .collect();
        assert_eq!(seen, vec![(20, true), (11, false), (10, false)]);
    }

    #[test]
    fn names_are_taken_whatever_their_case() {
        assert!(!name_is_free("colour", ["Size", "Colour"]));
        assert!(name_is_free("Weight", ["Size", "Colour"]));
    }

    fn required(attribute: Attribute) -> Attribute {
        Attribute {
            required: true,
            ..attribute
        }
    }

    fn values(given: &[(i64, &str)]) -> Vec<(i64, String)> {
        given
            .iter()
            .map(|(id, value)| (*id, (*value).to_owned()))
            .collect()
    }

    fn laptop_attributes() -> Vec<Applicable> {
        applicable(
            &lineage(&["laptops", "electronics"]),
            vec![
                required(attribute(1, "electronics", "Warranty", AttributeType::Number)),
                required(colour(2, "laptops")),
                attribute(3, "laptops", "Touch", AttributeType::Boolean),
            ],
        )
    }

    #[test]
    fn given_valid_values_when_checked_then_they_are_answered_normalized() {
        let checked = check_values(&laptop_attributes(), &values(&[(1, "2.0"), (2, "red")]));

        assert_eq!(
            checked,
            Ok(BTreeMap::from([(1, "2".to_owned()), (2, "Red".to_owned())]))
        );
    }

    #[test]
    fn given_bad_values_when_checked_then_each_is_named_by_its_index() {
        let checked = check_values(
            &laptop_attributes(),
            &values(&[(1, "two"), (2, "Green"), (3, "maybe"), (99, "x"), (3, "true")]),
        );

        let Err(ValuesRejected::Invalid(entries)) = checked else {
            panic!("expected invalid values, got {checked:?}");
        };
        let seen: Vec<(usize, bool)> = entries
            .iter()
            .map(|entry| (entry.index, entry.attribute_field))
            .collect();
        assert_eq!(
            seen,
            vec![(0, false), (1, false), (2, false), (3, true), (4, true)]
        );
        assert_eq!(entries[3].problem, InvalidAttribute::UnknownAttribute);
        assert_eq!(entries[4].problem, InvalidAttribute::GivenTwice);
    }

    #[test]
    fn given_a_required_attribute_without_value_when_checked_then_its_name_is_missing() {
        let checked = check_values(&laptop_attributes(), &values(&[(3, "true")]));

        assert_eq!(
            checked,
            Err(ValuesRejected::MissingRequired(vec![
                "Warranty".to_owned(),
                "Colour".to_owned()
            ]))
        );
    }

    #[test]
    fn given_an_enum_when_options_are_replaced_then_the_dropped_ones_are_named() {
        let old = vec!["Red".to_owned(), "Blue".to_owned(), "Green".to_owned()];
        let new = vec!["Red".to_owned(), "Navy".to_owned()];
        assert_eq!(removed_options(&old, &new), vec!["Blue", "Green"]);
    }
}
