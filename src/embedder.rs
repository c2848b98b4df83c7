//! Sentence vectors from the shipped sentence-embedding model (all-MiniLM-L6-v2, in
//! `locales/en/model/`): text in, unit vector out. It knows nothing of topics, crisis or
//! conversations; the matcher decides what the vectors mean.
//!
//! The model runs in process with candle on the CPU; nothing is downloaded. It follows
//! sentence-transformers exactly, so vectors match the published model's: WordPiece tokens
//! (truncated at 256), BERT, the mean of the token vectors under the attention mask, then L2
//! normalisation. The one liberty is a faster erf inside GELU (`bert`), a few millionths off
//! in a vector. `tests/it/semantic.rs` checks the output against vectors computed by an
//! independent numpy implementation from the upstream weights.
//!
//! Pure computation: no I/O (the bytes come from the content), no state between calls.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};
use candle_transformers::models::bert::Config;
use tokenizers::Tokenizer;

use crate::content::Blob;

mod bert;

/// Length of every vector.
pub const DIMENSIONS: usize = 384;
/// sentence-transformers' `max_seq_length` for this model; longer texts are cut, so callers
/// that must read a long message whole split it first.
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[error("the model's config.json: {0}")]
    Config(#[from] serde_json::Error),
    #[error("the model's tokenizer.json: {0}")]
    Tokenizer(String),
    #[error("the model's weights: {0}")]
    Model(#[from] candle_core::Error),
}

pub struct Embedder {
    embeddings: TokenEmbeddings,
    encoder: bert::Encoder,
    tokenizer: Tokenizer,
    device: Device,
}

/// BERT's input layer, as in `candle_transformers`' `BertModel` but for one thing: the word
/// table (30,522 rows, half the model's memory when widened) is never copied. Its rows are
/// read where the shipped f16 weights already lie (the binary itself, or the content's copy of
/// the file) and only the rows a text uses are widened to f32. The shipped weights are f16
/// throughout, so the vectors are bit for bit those of a table widened whole at load.
struct TokenEmbeddings {
    words: WordTable,
    positions: Tensor,
    token_types: Tensor,
    layer_norm: LayerNorm,
}

/// The word table's f16 rows, little-endian, in the bytes of the weights file.
struct WordTable {
    weights: Blob,
    start: usize,
    rows: usize,
    hidden: usize,
}

impl WordTable {
    const NAME: &'static str = "embeddings.word_embeddings.weight";

    /// Finds the table in a safetensors file: an 8-byte little-endian header length, a JSON
    /// header naming each tensor's dtype, shape and byte range, then the data.
    fn find(weights: &Blob, rows: usize, hidden: usize) -> candle_core::Result<Self> {
        #[derive(serde::Deserialize)]
        struct Entry {
            dtype: String,
            shape: Vec<usize>,
            data_offsets: (usize, usize),
        }
        let bytes = weights.bytes();
        let fail = |why: &str| candle_core::Error::Msg(format!("{}: {why}", Self::NAME));
        let header_len = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| fail("not a safetensors file"))?;
        let header = bytes
            .get(8..8usize.saturating_add(header_len))
            .ok_or_else(|| fail("the header runs past the end of the file"))?;
        let mut entries: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| fail(&e.to_string()))?;
        let entry: Entry = entries
            .remove(Self::NAME)
            .ok_or_else(|| fail("missing"))
            .and_then(|v| serde_json::from_value(v).map_err(|e| fail(&e.to_string())))?;
        if entry.dtype != "F16" || entry.shape != [rows, hidden] {
            return Err(fail(&format!(
                "{} {:?} where the model needs F16 [{rows}, {hidden}]",
                entry.dtype, entry.shape
            )));
        }
        // The data begins after the header; offsets past any real file are refused, never
        // added up into a wrapped number.
        let data = 8 + header.len();
        let (Some(start), Some(end)) = (
            data.checked_add(entry.data_offsets.0),
            data.checked_add(entry.data_offsets.1),
        ) else {
            return Err(fail("its byte range is past the end of the file"));
        };
        if end < start || end - start != rows * hidden * 2 || end > bytes.len() {
            return Err(fail("its byte range does not fit its shape or the file"));
        }
        Ok(Self {
            weights: weights.clone(),
            start,
            rows,
            hidden,
        })
    }

    /// The rows of `ids`, widened to f32, one after another.
    fn rows_of(&self, ids: &[u32]) -> candle_core::Result<Vec<f32>> {
        let table = &self.weights.bytes()[self.start..self.start + self.rows * self.hidden * 2];
        let mut out = Vec::with_capacity(ids.len() * self.hidden);
        for &id in ids {
            let id = id as usize;
            if id >= self.rows {
                return Err(candle_core::Error::Msg(format!(
                    "token id {id} is outside the word table ({} rows)",
                    self.rows
                )));
            }
            let row = &table[id * self.hidden * 2..(id + 1) * self.hidden * 2];
            out.extend(
                row.chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
            );
        }
        Ok(out)
    }
}

impl TokenEmbeddings {
    fn load(weights: &Blob, vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let hidden = config.hidden_size;
        Ok(Self {
            words: WordTable::find(weights, config.vocab_size, hidden)?,
            positions: vb.get(
                (config.max_position_embeddings, hidden),
                "position_embeddings.weight",
            )?,
            token_types: vb.get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?,
            layer_norm: candle_nn::layer_norm(hidden, config.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }

    /// The input vectors of a packed batch, shape (tokens, hidden): each token's word row,
    /// the row of its position within its own text, and token type 0 (every text is one
    /// segment).
    fn forward(
        &self,
        ids: &[u32],
        positions: &[u32],
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let words = Tensor::from_vec(
            self.words.rows_of(ids)?,
            (ids.len(), self.words.hidden),
            device,
        )?;
        let segment = self.token_types.get(0)?;
        let positions = self.positions.index_select(
            &Tensor::from_vec(positions.to_vec(), positions.len(), device)?,
            0,
        )?;
        let summed = words.broadcast_add(&segment)?.add(&positions)?;
        self.layer_norm.forward(&summed)
    }
}

impl Embedder {
    /// Loads the model from its files; the f16 weights are widened to f32, all but the word
    /// table, which is read where it lies (`TokenEmbeddings`).
    pub fn new(
        weights: &Blob,
        tokenizer_json: &str,
        config_json: &str,
    ) -> Result<Self, EmbedderError> {
        let config: Config = serde_json::from_str(config_json)?;
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json.as_bytes())
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        // The shipped tokenizer.json pads every text to 128 tokens; a batch is packed here
        // instead (`token_rows`), and a text's mean is taken over its own tokens only.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_slice_safetensors(weights.bytes(), DType::F32, &device)?;
        let embeddings = TokenEmbeddings::load(weights, vb.pp("embeddings"), &config)?;
        let encoder = bert::Encoder::load(vb.pp("encoder"), &config)?;
        Ok(Self {
            embeddings,
            encoder,
            tokenizer,
            device,
        })
    }

    /// One unit vector per text, in order, all from one packed pass through the model
    /// (`token_rows`). An empty text gets the vector of the empty sentence, like any other.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let sequences: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let TokenRows { rows, of_text } = self.token_rows(&sequences)?;
        Ok(of_text
            .into_iter()
            .map(|own| unit_mean(rows[own].iter()))
            .collect())
    }

    /// For each text, unit vectors of the text whole (first) and of each of its spans (byte
    /// ranges on word boundaries), all texts in one packed pass through the model: a span's
    /// vector is the mean of its text's token vectors that lie inside it, so each span is read in
    /// the light of the rest of its text. A text's whole vector is `embed`'s. `None` when a text
    /// is too long for one pass or a span holds no token.
    pub fn embed_spans(
        &self,
        texts: &[(&str, &[std::ops::Range<usize>])],
    ) -> Result<Option<Vec<Vec<Vec<f32>>>>, EmbedderError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(|(text, _)| *text).collect(), true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let longest = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        if longest == 0 || longest >= MAX_TOKENS {
            return Ok(None);
        }
        let sequences: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let TokenRows {
            rows: hidden,
            of_text,
        } = self.token_rows(&sequences)?;
        let mut out = Vec::with_capacity(texts.len());
        for (((_, spans), encoding), own) in texts.iter().zip(&encodings).zip(of_text) {
            let rows = &hidden[own];
            let mut vectors = vec![unit_mean(rows.iter())];
            for span in *spans {
                let inside = encoding
                    .get_offsets()
                    .iter()
                    .zip(encoding.get_special_tokens_mask())
                    .zip(rows)
                    .filter(|&((&(start, end), &special), _)| {
                        special == 0 && start >= span.start && end <= span.end
                    })
                    .map(|(_, row)| row);
                match unit_mean(inside) {
                    mean if mean.is_empty() => return Ok(None),
                    mean => vectors.push(mean),
                }
            }
            out.push(vectors);
        }
        Ok(Some(out))
    }

    /// The model's output for every token of `sequences`, in one packed pass: each
    /// sequence's rows, and where they lie among them. Tokens are packed one sequence after
    /// another, longest first, with no padding, so the linear layers (nearly all of the work)
    /// read only real tokens, in one matrix product per layer however many lengths there are
    /// (a long message read again piece by piece used to make a padded pass per group of
    /// lengths). For attention, sequences of like length (none under half the longest of its group) are padded side by
    /// side; padding adds exactly nothing to any token's attention, so the vectors are those of
    /// a pass per text.
    fn token_rows(&self, sequences: &[&[u32]]) -> Result<TokenRows, EmbedderError> {
        let mut longest_first: Vec<usize> = (0..sequences.len()).collect();
        longest_first.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        let mut of_text = vec![0..0; sequences.len()];
        for &i in &longest_first {
            let start = ids.len();
            ids.extend_from_slice(sequences[i]);
            positions.extend(0..sequences[i].len() as u32);
            of_text[i] = start..ids.len();
        }
        if ids.is_empty() {
            return Ok(TokenRows {
                rows: Vec::new(),
                of_text,
            });
        }
        let mut groups = Vec::new();
        let mut rest = longest_first.as_slice();
        while let Some(&first) = rest.first() {
            let longest = sequences[first].len();
            let alike = rest
                .iter()
                .take_while(|&&i| sequences[i].len() * 2 >= longest)
                .count();
            let (group, after) = rest.split_at(alike);
            let lengths: Vec<usize> = group.iter().map(|&i| sequences[i].len()).collect();
            groups.push(bert::AttentionGroup::new(
                of_text[first].start,
                &lengths,
                &self.device,
            )?);
            rest = after;
        }
        let input = self.embeddings.forward(&ids, &positions, &self.device)?;
        let rows = self.encoder.forward(&input, &groups)?.to_vec2::<f32>()?;
        Ok(TokenRows { rows, of_text })
    }
}

/// The model's output for a batch: one row per token, and which rows are each text's.
struct TokenRows {
    rows: Vec<Vec<f32>>,
    of_text: Vec<std::ops::Range<usize>>,
}

/// The mean of some token vectors, L2-normalised as sentence-transformers does; empty when
/// there are none.
fn unit_mean<'a>(rows: impl Iterator<Item = &'a Vec<f32>>) -> Vec<f32> {
    let mut sum = vec![0.0f32; DIMENSIONS];
    let mut count = 0usize;
    for row in rows {
        sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
        count += 1;
    }
    if count == 0 {
        return Vec::new();
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    sum.iter().map(|x| x / norm).collect()
}

/// Cosine similarity of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

/// The dot product, summed in eight lanes: one running sum waits on every addition before the
/// next, and the compiler may not reorder float additions itself; eight let it use the
/// processor's vector registers (the risk head and the nearest danger example run it
/// thousands of times a message).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut sums = [0.0f32; LANES];
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for ((sum, x), y) in sums.iter_mut().zip(x).zip(y) {
            *sum += x * y;
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// A fixed set of unit vectors (the phrasings', the danger examples') to find a message's
/// nearest among, kept in f16: they only name the nearest one in traces, and a search runs
/// over one topic's few hundred or, once a message, the danger examples, so widening each row
/// as it is read costs little where a matrix of them in f32 cost `serve` its memory budget.
pub struct Bank {
    rows: Vec<half::f16>,
}

impl Bank {
    pub fn new(vectors: &[&[half::f16]]) -> Self {
        Self {
            rows: vectors.concat(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len() / DIMENSIONS
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Of `rows`, the one most similar to any of `queries`, if any is similar at all; a tie
    /// goes to the earlier query, then the earlier row.
    pub fn nearest(
        &self,
        queries: &[Vec<f32>],
        rows: impl IntoIterator<Item = usize>,
    ) -> Option<usize> {
        // (similarity, query, row) of the best so far.
        let mut best: Option<(f32, usize, usize)> = None;
        let mut widened = [0.0f32; DIMENSIONS];
        for row in rows {
            let Some(stored) = self.rows.get(row * DIMENSIONS..(row + 1) * DIMENSIONS) else {
                continue;
            };
            half::slice::HalfFloatSliceExt::convert_to_f32_slice(stored, &mut widened);
            for (query, vector) in queries.iter().enumerate() {
                let closeness = similarity(vector, &widened);
                let better = match best {
                    None => closeness > 0.0,
                    Some((closest, q, _)) => {
                        closeness > closest || (closeness == closest && query < q)
                    }
                };
                if better {
                    best = Some((closeness, query, row));
                }
            }
        }
        best.map(|(_, _, row)| row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dot_product_in_lanes_is_the_dot_product() {
        for len in [0, 1, 7, 8, 13, DIMENSIONS] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            assert!(
                (f64::from(dot(&a, &b)) - plain).abs() < 1e-4,
                "length {len}"
            );
        }
    }

    /// A safetensors file holding one tensor named as the word table.
    fn weights_file(dtype: &str, shape: [usize; 2], data: &[u8]) -> Blob {
        let header = format!(
            r#"{{"{}":{{"dtype":"{dtype}","shape":[{},{}],"data_offsets":[0,{}]}}}}"#,
            WordTable::NAME,
            shape[0],
            shape[1],
            data.len()
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        Blob::Owned(bytes.into())
    }

    #[test]
    fn the_word_table_is_read_in_place_row_by_row() {
        let values: [f32; 6] = [0.5, -1.0, 2.0, 0.25, -3.5, 1.5];
        let data: Vec<u8> = values
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
            .collect();
        let table = WordTable::find(&weights_file("F16", [3, 2], &data), 3, 2).expect("found");
        assert_eq!(
            table.rows_of(&[2, 0, 2]).expect("in range"),
            vec![-3.5, 1.5, 0.5, -1.0, -3.5, 1.5]
        );
        assert!(
            table.rows_of(&[3]).is_err(),
            "an id past the table is an error, not a panic"
        );
    }

    #[test]
    fn a_word_table_of_the_wrong_kind_or_size_is_refused_with_the_reason() {
        let twelve = [0u8; 12];
        let wrong_type = WordTable::find(&weights_file("F32", [3, 1], &twelve), 3, 1);
        assert!(wrong_type.is_err_and(|e| e.to_string().contains("F16")));
        let wrong_shape = WordTable::find(&weights_file("F16", [2, 3], &twelve), 3, 2);
        assert!(wrong_shape.is_err());
        let mut short = weights_file("F16", [3, 2], &twelve).bytes().to_vec();
        short.truncate(short.len() - 1);
        assert!(WordTable::find(&Blob::Owned(short.into()), 3, 2).is_err());
        let header = format!(
            r#"{{"{}":{{"dtype":"F16","shape":[3,2],"data_offsets":[{},{}]}}}}"#,
            WordTable::NAME,
            usize::MAX - 4,
            usize::MAX
        );
        let mut far = (header.len() as u64).to_le_bytes().to_vec();
        far.extend(header.as_bytes());
        assert!(WordTable::find(&Blob::Owned(far.into()), 3, 2).is_err());
        assert!(WordTable::find(&Blob::Static(b"not a model"), 3, 2).is_err());
    }

    #[test]
    fn the_nearest_row_is_the_most_similar_to_any_query_and_none_when_nothing_is_similar() {
        let unit = |i: usize| {
            let mut v = vec![0.0f32; DIMENSIONS];
            v[i] = 1.0;
            v
        };
        let rows: Vec<Vec<half::f16>> = [unit(0), unit(1), unit(2)]
            .iter()
            .map(|v| v.iter().map(|&x| half::f16::from_f32(x)).collect())
            .collect();
        let bank = Bank::new(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(bank.len(), 3);
        assert_eq!(bank.nearest(&[unit(1)], 0..3), Some(1));
        // Any query counts; only the rows asked about are searched.
        assert_eq!(bank.nearest(&[unit(5), unit(2)], 0..3), Some(2));
        assert_eq!(bank.nearest(&[unit(2)], [0, 1]), None);
        assert_eq!(bank.nearest(&[unit(0)], [7]), None, "a row past the end");
    }
}
