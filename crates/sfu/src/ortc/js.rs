//! JavaScript value semantics over `serde_json::Value`.
//!
//! mediasoup's API is defined by JavaScript code: `typeof` checks, truthiness and `===`. The
//! ORTC rules here run on JSON values from JS, so these helpers reproduce those semantics; a
//! missing key (`None`) plays the part of `undefined`.

use serde_json::{Map, Number, Value};

/// JS truthiness (`if (v)`).
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().map(|f| f != 0.0 && !f.is_nan()).unwrap_or(false),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

pub fn is_number(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Number(_)))
}

pub fn is_string(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(_)))
}

/// `typeof v === 'object'` (true for null and arrays too, as in JS).
pub fn is_object_like(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Null) | Some(Value::Array(_)) | Some(Value::Object(_)))
}

pub fn as_f64(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// JS strict equality (`===`) for the primitive values that appear in RTP parameters.
pub fn strict_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        // Objects and arrays compare by identity in JS: two distinct values never match.
        _ => false,
    }
}

/// `a || b`
pub fn or<'a>(a: Option<&'a Value>, b: &'a Value) -> &'a Value {
    if truthy(a) {
        a.unwrap()
    } else {
        b
    }
}

pub fn num(n: impl Into<Number>) -> Value {
    Value::Number(n.into())
}

/// A JSON number from an f64 that holds an integer when it can (JS has one number type).
pub fn num_f64(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// Property access that fails like JS does on `null`/`undefined` receivers.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|o| o.get(key))
}

pub fn obj_mut(v: &mut Value) -> Option<&mut Map<String, Value>> {
    v.as_object_mut()
}

/// JS `String(value)` for primitives, used in error messages.
pub fn display(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(_)) => "[array]".into(),
        Some(Value::Object(_)) => "[object Object]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_js() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(Some(&falsy)), "{falsy}");
        }
        for t in [json!(true), json!(1), json!("0"), json!([]), json!({})] {
            assert!(truthy(Some(&t)), "{t}");
        }
        assert!(!truthy(None));
    }

    #[test]
    fn strict_equality_does_not_coerce() {
        assert!(strict_eq(Some(&json!(1)), Some(&json!(1.0))));
        assert!(!strict_eq(Some(&json!(1)), Some(&json!("1"))));
        assert!(strict_eq(None, None));
        assert!(!strict_eq(None, Some(&json!(null))));
        assert!(!strict_eq(Some(&json!({})), Some(&json!({}))));
    }
}
