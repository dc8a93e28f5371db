use cairn_domain::ValidationError;
use uuid::Uuid;

/// The largest magnitude the store accepts.
pub const MAX_MAGNITUDE: f64 = 1e15;

/// A finite number within ±1e15.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberValue(f64);

impl NumberValue {
    pub fn parse(v: f64) -> Result<Self, ValidationError> {
        if !v.is_finite() {
            return Err(ValidationError::new("value", "must be a finite number"));
        }
        if v.abs() > MAX_MAGNITUDE {
            return Err(ValidationError::new("value", "must be between -1e15 and 1e15"));
        }
        Ok(Self(v))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberId(Uuid);

impl NumberId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s).map(Self).map_err(|_| ValidationError::new("id", "must be a UUID"))
    }
}

impl Default for NumberId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for NumberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberItem {
    pub id: String,
    pub value: f64,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberStats {
    pub count: i64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

/// Page size: 1–500, default 50.
#[derive(Debug, Clone, Copy)]
pub struct PageLimit(i64);

impl PageLimit {
    pub const DEFAULT: i64 = 50;
    pub const MAX: i64 = 500;

    pub fn parse(v: Option<i64>) -> Result<Self, ValidationError> {
        match v {
            None => Ok(Self(Self::DEFAULT)),
            Some(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            Some(_) => Err(ValidationError::new("limit", "must be between 1 and 500")),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A position in the newest-first listing: the id of the last number seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn after(id: &str) -> Self {
        Self(id.to_owned())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let id =
            Uuid::parse_str(s).map_err(|_| ValidationError::new("cursor", "must be a number id from this list"))?;
        Ok(Self(id.to_string()))
    }

    pub fn encode(&self) -> String {
        self.0.clone()
    }

    pub(crate) fn last_id(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        for ok in [0.0, 42.0, 3.25, -1e15, 1e15] {
            assert!(NumberValue::parse(ok).is_ok());
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e15 + 1.0, -2e15] {
            assert_eq!(NumberValue::parse(bad).unwrap_err().field, "value");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor::after(&Uuid::now_v7().to_string());
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        assert_eq!(c.encode(), c.last_id(), "the cursor is the id itself");
        assert!(Cursor::parse("nope!").is_err());
        assert!(Cursor::parse("bm90LWEtdXVpZA").is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 50);
        assert_eq!(PageLimit::parse(Some(500)).unwrap().get(), 500);
        assert!(PageLimit::parse(Some(0)).is_err());
        assert!(PageLimit::parse(Some(501)).is_err());
    }
}
