//! Records as the service sees them, and the parsing of what callers send.

use cairn_domain::{Id, IdKind, ValidationError};
use serde_json::{Map, Value};

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 64 * 1024;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 40;
pub const MAX_DATA: usize = 64 * 1024;
pub const MAX_NOTE: usize = 1000;
/// Most records one bulk call creates or deletes.
pub const MAX_BULK: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub data: Map<String, Value>,
    /// The latest published version; 0 until first published.
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// One publication of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishEntry {
    pub record_id: String,
    pub version: i64,
    pub publisher_id: String,
    pub publisher_email: Option<String>,
    pub time: i64,
    pub note: String,
}

/// A new record's fields, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInput {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub data: Map<String, Value>,
}

/// The fields a change replaces; absent ones stay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordPatch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
    pub data: Option<Map<String, Value>>,
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, ValidationError> {
    v.as_object().ok_or_else(|| ValidationError::new(field, "must be a JSON object"))
}

fn only(obj: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<(), ValidationError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => {
            Err(ValidationError::new(format!("{prefix}{k}"), format!("unknown field; known: {}", allowed.join(", "))))
        }
        None => Ok(()),
    }
}

/// A title: at most 200 characters as given, no control characters, not blank; stored
/// trimmed.
pub fn parse_title(v: &Value, field: &str) -> Result<String, ValidationError> {
    let raw = v.as_str().ok_or_else(|| ValidationError::new(field, "must be a string"))?;
    let t = raw.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if raw.chars().count() > MAX_TITLE || raw.chars().any(char::is_control) {
        return Err(ValidationError::new(field, format!("at most {MAX_TITLE} characters, no control characters")));
    }
    Ok(t.to_owned())
}

fn parse_body(v: &Value, field: &str) -> Result<String, ValidationError> {
    let b = v.as_str().ok_or_else(|| ValidationError::new(field, "must be a string"))?;
    if b.len() > MAX_BODY {
        return Err(ValidationError::new(field, format!("at most {} KiB", MAX_BODY / 1024)));
    }
    Ok(b.to_owned())
}

/// Tags: at most 20 given, each at most 40 characters as given, not blank, no control
/// characters; stored trimmed, duplicates dropped (order kept).
pub fn parse_tags(v: &Value, field: &str) -> Result<Vec<String>, ValidationError> {
    let items = v.as_array().ok_or_else(|| ValidationError::new(field, "must be an array of strings"))?;
    if items.len() > MAX_TAGS {
        return Err(ValidationError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<String> = Vec::new();
    for item in items {
        let raw = item.as_str().ok_or_else(|| ValidationError::new(field, "must be an array of strings"))?;
        let t = raw.trim();
        if t.is_empty() || raw.chars().count() > MAX_TAG || raw.chars().any(char::is_control) {
            return Err(ValidationError::new(field, format!("each tag has 1 to {MAX_TAG} characters")));
        }
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    Ok(tags)
}

fn parse_data(v: &Value, field: &str) -> Result<Map<String, Value>, ValidationError> {
    let m = object(v, field)?;
    if v.to_string().len() > MAX_DATA {
        return Err(ValidationError::new(field, format!("at most {} KiB", MAX_DATA / 1024)));
    }
    Ok(m.clone())
}

const FIELDS: [&str; 4] = ["title", "body", "tags", "data"];

impl RecordInput {
    /// From a JSON object; `prefix` names the object in errors (`records[3].`).
    pub fn parse(v: &Value, prefix: &str) -> Result<Self, ValidationError> {
        let obj = object(v, if prefix.is_empty() { "body" } else { prefix.trim_end_matches('.') })?;
        only(obj, prefix, &FIELDS)?;
        let f = |name: &str| format!("{prefix}{name}");
        Ok(Self {
            title: parse_title(
                obj.get("title").ok_or_else(|| ValidationError::new(f("title"), "is required"))?,
                &f("title"),
            )?,
            body: obj.get("body").map(|b| parse_body(b, &f("body"))).transpose()?.unwrap_or_default(),
            tags: obj.get("tags").map(|t| parse_tags(t, &f("tags"))).transpose()?.unwrap_or_default(),
            data: obj.get("data").map(|d| parse_data(d, &f("data"))).transpose()?.unwrap_or_default(),
        })
    }
}

impl RecordPatch {
    pub fn parse(v: &Value) -> Result<Self, ValidationError> {
        let obj = object(v, "body")?;
        only(obj, "", &FIELDS)?;
        Ok(Self {
            title: obj.get("title").map(|t| parse_title(t, "title")).transpose()?,
            body: obj.get("body").map(|b| parse_body(b, "body")).transpose()?,
            tags: obj.get("tags").map(|t| parse_tags(t, "tags")).transpose()?,
            data: obj.get("data").map(|d| parse_data(d, "data")).transpose()?,
        })
    }
}

/// A publish note: at most 1000 characters as given; stored trimmed.
pub fn parse_note(v: Option<&Value>) -> Result<String, ValidationError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(String::new()) };
    let n = v.as_str().ok_or_else(|| ValidationError::new("note", "must be a string"))?;
    if n.chars().count() > MAX_NOTE {
        return Err(ValidationError::new("note", format!("at most {MAX_NOTE} characters")));
    }
    Ok(n.trim().to_owned())
}

/// What a [`RecordId`] names.
#[derive(Debug)]
pub enum RecordKind {}

impl IdKind for RecordKind {
    const WHAT: &'static str = "record";
}

/// A record's id (`RecordId::parse(s, field)`: "is not a record id").
pub type RecordId = Id<RecordKind>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_names_the_field_at_fault() {
        assert_eq!(RecordInput::parse(&json!({"body": "x"}), "").unwrap_err().field, "title");
        assert_eq!(RecordInput::parse(&json!({"title": " "}), "").unwrap_err().field, "title");
        assert_eq!(
            RecordInput::parse(&json!({"title": "a", "tags": [1]}), "records[2].").unwrap_err().field,
            "records[2].tags"
        );
        assert_eq!(RecordInput::parse(&json!({"title": "a", "data": []}), "").unwrap_err().field, "data");
        assert_eq!(RecordInput::parse(&json!({"title": "a", "colour": "red"}), "").unwrap_err().field, "colour");
        let ok = RecordInput::parse(&json!({"title": " Q3 plan ", "tags": ["a", "b", "a"]}), "").unwrap();
        assert_eq!((ok.title.as_str(), ok.tags.len()), ("Q3 plan", 2));
    }

    #[test]
    fn limits_hold() {
        let long = "x".repeat(MAX_TITLE + 1);
        assert!(RecordInput::parse(&json!({"title": long}), "").is_err());
        let tags: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(RecordPatch::parse(&json!({"tags": tags})).is_err());
        assert!(parse_note(Some(&json!("n".repeat(MAX_NOTE + 1)))).is_err());
        assert_eq!(RecordId::parse("not-a-uuid", "id").unwrap_err().message, "is not a record id");
    }

    /// The limits count what the caller sent, as the API's schema states them: blanks
    /// around a title or tag count, and so do repeated tags.
    #[test]
    fn limits_count_what_was_given() {
        let padded = format!(" {} ", "x".repeat(MAX_TITLE - 1));
        assert!(RecordInput::parse(&json!({"title": padded}), "").is_err());
        assert!(RecordInput::parse(&json!({"title": "x".repeat(MAX_TITLE)}), "").is_ok());
        let repeated: Vec<&str> = vec!["ops"; MAX_TAGS + 1];
        assert!(RecordPatch::parse(&json!({"tags": repeated})).is_err());
        assert_eq!(RecordPatch::parse(&json!({"tags": vec!["ops"; MAX_TAGS]})).unwrap().tags.unwrap(), ["ops"]);
        assert!(parse_tags(&json!([format!(" {} ", "t".repeat(MAX_TAG - 1))]), "tags").is_err());
        assert!(parse_note(Some(&json!(format!(" {} ", "n".repeat(MAX_NOTE - 1))))).is_err());
        assert_eq!(parse_note(Some(&json!(" n "))).unwrap(), "n");
    }
}
