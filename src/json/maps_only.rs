//! A deserializer adapter that reads every struct from a JSON object only.
//!
//! Why: serde's derived `Deserialize` for a struct accepts an object *or* an
//! array of its fields in order, and serde_json's `deserialize_struct`
//! compiles both visitors (`visit_map` and `visit_seq`) for every model. No
//! API this connector reads (GHL, Rankr, its own state) sends a struct as an
//! array, so the array reader was dead code: 35 KB of the component. This
//! adapter asks serde_json for a map wherever a struct is wanted, at every
//! depth, so `visit_seq` is never instantiated for a struct; a struct given
//! as an array now fails as "invalid type: sequence, expected struct …".
//!
//! Everything else is forwarded unchanged: the adapter wraps the visitor,
//! and the map, sequence, option and enum accessors the visitor is handed,
//! so that nested values go through it too.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use std::fmt;

/// Wraps a deserializer (serde_json's, in this crate).
pub struct MapsOnly<D>(pub D);

/// Wraps a visitor so that what it is handed is wrapped in turn.
struct Wrap<V>(V);

/// Wraps a seed so that the deserializer it is given is wrapped.
struct Seed<S>(S);

/// Wraps sequence, map and enum accessors.
struct Access<A>(A);

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapsOnly<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(visitor))
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(visitor))
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(visitor))
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(visitor))
    }

    /// The point of the adapter: a struct is read as a map.
    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(visitor))
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        #[inline]
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(MapsOnly(d))
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(MapsOnly(d))
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(Access(seq))
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(Access(map))
    }

    #[inline]
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(Access(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(MapsOnly(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Access<A> {
    type Error = A::Error;
    type Variant = Access<A::Variant>;

    #[inline]
    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0.variant_seed(Seed(seed)).map(|(v, rest)| (v, Access(rest)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Access<A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(visitor))
    }
}

#[cfg(test)]
mod tests {
    use crate::ghl::model::{PostEnvelope, StatisticsEnvelope, TagsEnvelope};
    use crate::json::from_bytes;
    use crate::rankr::model::{Problem, TagBatchResponse};
    use std::fmt::Debug;

    /// The adapter reads `text` exactly as serde_json alone does.
    fn same<T: for<'a> serde::Deserialize<'a> + Debug>(text: &str) {
        let alone: T = serde_json::from_str(text).unwrap();
        let adapted: T = from_bytes(text.as_bytes()).unwrap();
        assert_eq!(format!("{adapted:?}"), format!("{alone:?}"), "{text}");
    }

    #[test]
    fn models_read_as_serde_json_reads_them() {
        // Nested structs, maps of structs, options, vectors of options and
        // numbers, unknown fields: the spec's own statistics example.
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../spec/social-media-posting.json")).unwrap();
        let example = &spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
            ["application/json"]["schema"]["example"];
        same::<StatisticsEnvelope>(&example.to_string());
        // An enum, borrowed and escaped strings, a null option.
        same::<TagBatchResponse>(
            r#"{"results":[{"externalId":"ghl:l:t\u00e9","status":"created"},{"externalId":"x","status":"rejected","error":null}]}"#,
        );
        same::<Problem>(
            r#"{"title":"Bad","errors":[{"index":3,"field":"name","message":"too long"}],"extra":[1,{"a":2}]}"#,
        );
        same::<PostEnvelope>(r#"{"results":{"post":{"tags":["a","b"],"summary":"s"}}}"#);
        same::<TagsEnvelope>(r#"{"results":{"tags":[{"_id":"t1","name":"n","deleted":false},3],"count":2}}"#);
    }

    #[test]
    fn a_struct_written_as_an_array_is_refused_at_any_depth() {
        // serde alone takes an array of the fields in order ...
        let arr = r#"{"errors":[[3,"name","too long"]]}"#;
        assert!(serde_json::from_str::<Problem>(arr).is_ok());
        // ... which none of the APIs sends: here it is a type error.
        let e = from_bytes::<Problem>(arr.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("invalid type: sequence, expected struct ProblemItem"), "{e}");
        let e = from_bytes::<Problem>(br#"["t","d",[]]"#).unwrap_err().to_string();
        assert!(e.contains("invalid type: sequence, expected struct Problem"), "{e}");
        // Trailing text is still an error, as in `serde_json::from_str`.
        let e = from_bytes::<Problem>(br#"{"title":"t"} x"#).unwrap_err().to_string();
        assert!(e.contains("trailing characters"), "{e}");
    }
}
