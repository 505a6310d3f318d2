//! A field's values as text, for top values and for histograms split by a field.

use firewatch_ingest::LogRecord;
use serde_json::Value;

use crate::lang::{lookup, Field};

/// The fields kept as keyword fast fields in the index, by their index name.
pub fn keyword_name(field: &Field) -> Option<&'static str> {
    match field {
        Field::Level => Some("level"),
        Field::Service => Some("service"),
        Field::Host => Some("host"),
        Field::Source => Some("source"),
        _ => None,
    }
}

/// The values of a field in a record, as text: JSON strings as they are, numbers and booleans
/// as JSON writes them, one value per array element; objects and nulls have none.
pub fn values_of(field: &Field, record: &LogRecord) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        other => Some(other.to_string()),
    };
    match field {
        Field::Message => vec![record.message.clone()],
        Field::Id => vec![record.id.clone()],
        Field::Level => vec![record.level.to_string()],
        Field::Service => vec![record.service.clone()],
        Field::Host => vec![record.host.clone()],
        Field::Source => vec![record.source.clone()],
        Field::Path(path) => lookup(&record.fields, path)
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().filter_map(text).collect(),
                v => text(v).into_iter().collect::<Vec<_>>(),
            })
            .collect(),
    }
}
