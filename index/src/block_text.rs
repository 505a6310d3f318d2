//! A borrowed view of the text columns of a block body, for readers that only search text.
//!
//! [`crate::block::decode`] builds a `LogRecord` per record: a `String` per column and a parsed
//! JSON map for the fields, which costs far more than searching them. [`BlockText`] instead
//! points into the decompressed body where it can: services and sources are `&str` slices, the
//! id column is stepped over without building ids, and host and the raw level are skipped.
//! Messages and fields are copied from blocks that store them verbatim (layouts before 2) and
//! rendered straight into the caller's buffer from layout-2 columns ([`BlockText::write_text`]).
//! Records that turn out to be wanted are decoded with [`crate::block::decode_rows`].

use firewatch_ingest::Level;

use crate::block::{
    get_str, get_varint, header, skip_ids, skip_str, texts, timestamps, Layout, RawLevels,
    TextColumns,
};

/// The columns of a block that make up a record's text line, plus its source, row by row.
pub struct BlockText<'a> {
    pub timestamps: Vec<i64>,
    pub services: Vec<&'a str>,
    pub sources: Vec<&'a str>,
    pub levels: Vec<Level>,
    texts: TextColumns<'a>,
}

impl<'a> BlockText<'a> {
    /// Reads the view of a block body; `None` if it is malformed.
    pub fn decode(mut body: &'a [u8]) -> Option<BlockText<'a>> {
        let b = &mut body;
        let (n, layout) = header(b)?;
        // Every record takes several bytes; refuse counts the body cannot hold.
        if n > b.len() {
            return None;
        }
        skip_ids(b, n)?;
        let timestamps = timestamps(b, n, layout)?;
        // observed
        for _ in 0..n {
            get_varint(b)?;
        }
        let services = strs(b, n)?;
        skip_strs(b, n)?; // host
        let sources = strs(b, n)?;
        let (level_bytes, rest) = b.split_at_checked(n)?;
        *b = rest;
        let levels = level_bytes
            .iter()
            .map(|&i| Level::ALL.get(i as usize).copied())
            .collect::<Option<Vec<Level>>>()?;
        if layout >= Layout::RawLevels {
            RawLevels::new(b)?;
            (0..n).try_for_each(|_| RawLevels::skip(b))?;
        } else {
            skip_strs(b, n)?; // level_raw
        }
        let texts = texts(b, n, layout)?;
        Some(BlockText {
            timestamps,
            services,
            sources,
            levels,
            texts,
        })
    }

    /// Appends record `i`'s message, then a space and its fields as compact JSON when it has
    /// any (bytes: not checked as UTF-8). Records must be written in order, each once; `None`
    /// otherwise, or if the body is malformed.
    pub fn write_text(&mut self, i: usize, out: &mut Vec<u8>) -> Option<()> {
        self.texts.write(i, *self.timestamps.get(i)?, out)
    }

    /// Steps over record `i`, for readers that want only some records' text (in order, like
    /// [`write_text`](Self::write_text)).
    pub fn skip_text(&mut self, i: usize) -> Option<()> {
        self.texts.skip(i)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

fn strs<'a>(b: &mut &'a [u8], n: usize) -> Option<Vec<&'a str>> {
    (0..n).map(|_| get_str(b)).collect()
}

fn skip_strs(b: &mut &[u8], n: usize) -> Option<()> {
    (0..n).try_for_each(|_| skip_str(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block;
    use firewatch_ingest::LogRecord;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // Any finite float: serde_json's `float_roundtrip` reads back the exact value.
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_.]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    prop_compose! {
        fn record()(
            file_id in any::<bool>(),
            fp in 0u64..4,
            off in any::<u64>(),
            other_id in "\\PC{0,10}",
            timestamp in any::<i64>(),
            observed in any::<i64>(),
            service in "\\PC{0,10}",
            host in "\\PC{0,10}",
            source in "\\PC{0,16}",
            level in 0usize..6,
            level_raw in proptest::option::of("\\PC{0,5}"),
            message in "(\\PC|\n| ){0,40}",
            fields in proptest::collection::btree_map("[a-z_]{1,8}", json_value(), 0..4),
            embed in any::<bool>(),
        ) -> LogRecord {
            let mut message = message;
            if embed {
                // Field values inside the message, as parsed logs have them: layout 2 stores
                // those as references. NULs must survive the template's escaping.
                for v in fields.values() {
                    match v {
                        Value::String(s) => message.push_str(s),
                        Value::Number(n) => message.push_str(&n.to_string()),
                        _ => {}
                    }
                    message.push('\0');
                }
            }
            LogRecord {
                id: if file_id { LogRecord::file_id(fp, off) } else { other_id },
                timestamp,
                observed,
                service,
                host,
                source,
                level: Level::ALL[level],
                level_raw,
                message,
                fields: fields.into_iter().collect::<Map<String, Value>>(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn agrees_with_the_full_decode(records in proptest::collection::vec(record(), 0..20)) {
            let mut body = Vec::new();
            block::encode(&records, &mut body);
            let full = block::decode(&body).unwrap();
            prop_assert_eq!(&full, &records);
            let mut view = BlockText::decode(&body).unwrap();
            prop_assert_eq!(view.len(), full.len());
            for (i, r) in full.iter().enumerate() {
                prop_assert_eq!(view.timestamps[i], r.timestamp);
                prop_assert_eq!(view.services[i], r.service.as_str());
                prop_assert_eq!(view.sources[i], r.source.as_str());
                prop_assert_eq!(view.levels[i], r.level);
                // The fields text is what serializing the decoded fields gives back, so
                // searching it equals searching the decoded record.
                let mut want = r.message.clone();
                if !r.fields.is_empty() {
                    want.push(' ');
                    want.push_str(&serde_json::to_string(&r.fields).unwrap());
                }
                let mut text = Vec::new();
                prop_assert!(view.write_text(i, &mut text).is_some());
                prop_assert_eq!(String::from_utf8(text).unwrap(), want);
            }
        }

        #[test]
        fn truncated_bodies_are_refused(records in proptest::collection::vec(record(), 1..6), cut in any::<prop::sample::Index>()) {
            let mut body = Vec::new();
            block::encode(&records, &mut body);
            let cut = cut.index(body.len());
            prop_assert!(BlockText::decode(&body[..cut]).is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BlockText::decode(&bytes);
        }
    }
}
