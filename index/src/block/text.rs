//! A block's message and fields columns read as `grep` searches them.

use super::wire::get_bytes;
use super::{fields, Layout};

/// Text columns as `grep` reads them: each record's message and its fields as compact JSON
/// text. Bytes, not checked as UTF-8: they are searched as bytes.
pub(crate) enum TextColumns<'a> {
    /// Layouts before 2 store both as they are searched (fields empty when a record has none).
    Verbatim {
        messages: Vec<&'a [u8]>,
        fields: Vec<&'a [u8]>,
    },
    /// Layout 2 renders them from templates and columns, record after record.
    Templates(fields::Reader<'a>),
}

/// The text columns of `n` records, read from the rest of a body after its `level_raw` column.
pub(crate) fn texts<'a>(b: &mut &'a [u8], n: usize, layout: Layout) -> Option<TextColumns<'a>> {
    if layout >= Layout::Templates {
        return fields::Reader::new(b, n, layout.form()).map(TextColumns::Templates);
    }
    let messages = (0..n).map(|_| get_bytes(b)).collect::<Option<_>>()?;
    let fields = (0..n).map(|_| get_bytes(b)).collect::<Option<_>>()?;
    Some(TextColumns::Verbatim { messages, fields })
}

impl TextColumns<'_> {
    /// Appends record `i`'s message, then a space and its fields when it has any; `time` is
    /// its timestamp. Layout-2 columns are read in order: records must be written in order,
    /// each once (`None` otherwise, as for a malformed body).
    pub(crate) fn write(&mut self, i: usize, time: i64, out: &mut Vec<u8>) -> Option<()> {
        match self {
            TextColumns::Verbatim { messages, fields } => {
                out.extend_from_slice(messages.get(i)?);
                let fields = fields.get(i)?;
                if !fields.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(fields);
                }
                Some(())
            }
            TextColumns::Templates(reader) => reader.write_text(i, time, out),
        }
    }

    /// Steps over record `i` (in order, like [`write`](Self::write)).
    pub(crate) fn skip(&mut self, i: usize) -> Option<()> {
        match self {
            TextColumns::Verbatim { messages, .. } => messages.get(i).map(|_| ()),
            TextColumns::Templates(reader) => reader.skip(i),
        }
    }
}
