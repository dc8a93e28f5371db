//! Ids of things (records, webhooks, deliveries, users, …): UUIDs parsed once where a
//! request names one, so services take an id that can exist, never a string.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use uuid::Uuid;

use crate::ValidationError;

/// What an [`Id`] names, in the words an error uses (`record` → "is not a record id").
pub trait IdKind {
    const WHAT: &'static str;
}

/// The id of a `K` (UUIDv7 when Cairn makes one). Written, stored and compared in the
/// hyphenated lower-case form; [`Id::parse`] also takes the other forms of a UUID.
pub struct Id<K: IdKind> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> Id<K> {
    /// A new id, ordered by creation time.
    pub fn new() -> Self {
        Self { uuid: Uuid::now_v7(), kind: PhantomData }
    }

    /// The id in `s`; `field` names where it came from in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s)
            .map(|uuid| Self { uuid, kind: PhantomData })
            .map_err(|_| ValidationError::new(field, format!("is not a {} id", K::WHAT)))
    }

    pub fn as_uuid(&self) -> Uuid {
        self.uuid
    }
}

impl<K: IdKind> Default for Id<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: IdKind> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: IdKind> Copy for Id<K> {}

impl<K: IdKind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<K: IdKind> Eq for Id<K> {}

impl<K: IdKind> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", K::WHAT, self.uuid)
    }
}

/// The hyphenated lower-case form, as stored.
impl<K: IdKind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uuid.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Thing {}
    impl IdKind for Thing {
        const WHAT: &'static str = "thing";
    }

    #[test]
    fn ids_parse_any_uuid_form_and_print_the_stored_one() {
        let id = Id::<Thing>::new();
        let stored = id.to_string();
        assert_eq!(Id::<Thing>::parse(&stored, "id").unwrap(), id);
        assert_eq!(Id::<Thing>::parse(&stored.to_uppercase(), "id").unwrap().to_string(), stored);
        assert_eq!(Id::<Thing>::parse(&id.as_uuid().simple().to_string(), "id").unwrap(), id);
        let e = Id::<Thing>::parse("nope", "ids[2]").unwrap_err();
        assert_eq!((e.field.as_str(), e.message.as_str()), ("ids[2]", "is not a thing id"));
        assert_ne!(Id::<Thing>::new(), id);
    }
}
