//! A request's answer: a JSON value, or JSON text the engine wrote itself. The answers a join
//! is made of (a transport's description, a consumer's parameters) are written as text once:
//! built as a `Value`, copied and serialized again, they were most of a join's worker time.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Value(Value),
    /// JSON text of one value (an object), as written by the engine.
    Json(String),
}

impl Reply {
    /// As a `Value` (text is parsed: for tests and rare callers, not the hot path).
    pub fn into_value(self) -> Value {
        match self {
            Reply::Value(v) => v,
            Reply::Json(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Appends the JSON text of the answer.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            // Writing a `Value` into a Vec cannot fail.
            Reply::Value(v) => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
            Reply::Json(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Value(v)
    }
}

/// Writes a JSON object field by field (keys given here are trusted literals; values, and
/// keys of `fields_of`, are escaped by serde_json).
pub struct JsonObject {
    bytes: Vec<u8>,
    empty: bool,
}

impl JsonObject {
    pub fn with_capacity(n: usize) -> Self {
        let mut bytes = Vec::with_capacity(n);
        bytes.push(b'{');
        JsonObject { bytes, empty: true }
    }

    fn comma(&mut self) {
        if !self.empty {
            self.bytes.push(b',');
        }
        self.empty = false;
    }

    fn key(&mut self, key: &str) {
        self.comma();
        self.bytes.push(b'"');
        self.bytes.extend_from_slice(key.as_bytes());
        self.bytes.extend_from_slice(b"\":");
    }

    /// A field whose value is already JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.bytes.extend_from_slice(json.as_bytes());
        self
    }

    /// A field from anything serde can write.
    pub fn field<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        self.key(key);
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.bytes, value);
        self
    }

    /// Every field of a JSON object value.
    pub fn fields_of(&mut self, object: &Value) -> &mut Self {
        for (k, v) in object.as_object().into_iter().flatten() {
            self.comma();
            let _ = serde_json::to_writer(&mut self.bytes, k);
            self.bytes.push(b':');
            let _ = serde_json::to_writer(&mut self.bytes, v);
        }
        self
    }

    pub fn finish(mut self) -> String {
        self.bytes.push(b'}');
        // Only UTF-8 went in (str keys, serde_json output).
        String::from_utf8(self.bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_written_field_by_field_are_the_json_of_the_value() {
        let mut o = JsonObject::with_capacity(64);
        o.field("a", "x\"y").raw("b", "[1,2]").field("c", &json!({ "d": null })).fields_of(&json!({ "e\"": 1, "f": [true] }));
        let text = o.finish();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({ "a": "x\"y", "b": [1, 2], "c": { "d": null }, "e\"": 1, "f": [true] }));
        assert_eq!(JsonObject::with_capacity(2).finish(), "{}");
        let r = Reply::Json(text.clone());
        let mut out = Vec::new();
        r.write_json(&mut out);
        assert_eq!(out, text.as_bytes());
        assert_eq!(r.into_value(), v);
    }
}
