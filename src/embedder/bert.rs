//! BERT's encoder layers, as in `candle_transformers::models::bert` (candle 0.11.1, MIT or
//! Apache-2.0, by the Hugging Face candle authors) but for one thing: the feed-forward
//! activation. candle computes GELU with a scalar `erff` from libm per element, a tenth of the
//! model's time on this machine; here it is one pass of a branch-free rational approximation
//! of erf that the compiler vectorises (`gelu`). Everything else (the weights' names, the
//! order of operations, f32 throughout) is candle's, so a vector differs from candle's by no
//! more than the approximation's error (`tests/it/semantic.rs` checks the vectors against an
//! independent reference). Inference only: no dropout, no tracing spans. Used under the Apache
//! License 2.0, whose text ships in `locales/en/model/LICENSE`; the changes are those named here.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, D, Layout, Module, Result, Shape, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::Config;

pub struct Encoder {
    layers: Vec<Layer>,
}

impl Encoder {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let layers = (0..config.num_hidden_layers)
            .map(|index| Layer::load(vb.pp(format!("layer.{index}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// The token vectors of a batch, shape (texts, tokens, hidden). `attention_mask` is added
    /// to the attention scores: 0 for a token, a large negative number for padding.
    pub fn forward(&self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let mut hidden = hidden.clone();
        for layer in &self.layers {
            hidden = layer.forward(&hidden, attention_mask)?;
        }
        Ok(hidden)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    heads: usize,
    head_size: usize,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let hidden = config.hidden_size;
        let attention = vb.pp("attention");
        let own = attention.pp("self");
        let norm = |vb: VarBuilder| candle_nn::layer_norm(hidden, config.layer_norm_eps, vb);
        Ok(Self {
            query: candle_nn::linear(hidden, hidden, own.pp("query"))?,
            key: candle_nn::linear(hidden, hidden, own.pp("key"))?,
            value: candle_nn::linear(hidden, hidden, own.pp("value"))?,
            heads: config.num_attention_heads,
            head_size: hidden / config.num_attention_heads,
            attention_out: candle_nn::linear(hidden, hidden, attention.pp("output").pp("dense"))?,
            attention_norm: norm(attention.pp("output").pp("LayerNorm"))?,
            intermediate: candle_nn::linear(
                hidden,
                config.intermediate_size,
                vb.pp("intermediate").pp("dense"),
            )?,
            output: candle_nn::linear(
                config.intermediate_size,
                hidden,
                vb.pp("output").pp("dense"),
            )?,
            output_norm: norm(vb.pp("output").pp("LayerNorm"))?,
        })
    }

    fn forward(&self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let attended = self.attention(hidden, attention_mask)?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_out.forward(&attended)? + hidden)?)?;
        let inner = self
            .intermediate
            .forward(&attended)?
            .apply_op1_no_bwd(&Gelu)?;
        self.output_norm
            .forward(&(self.output.forward(&inner)? + attended)?)
    }

    fn attention(&self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let by_head = |xs: Tensor| -> Result<Tensor> {
            let mut shape = xs.dims().to_vec();
            shape.pop();
            shape.push(self.heads);
            shape.push(self.head_size);
            xs.reshape(shape.as_slice())?.transpose(1, 2)?.contiguous()
        };
        let query = by_head(self.query.forward(hidden)?)?;
        let key = by_head(self.key.forward(hidden)?)?;
        let value = by_head(self.value.forward(hidden)?)?;
        let scores = (query.matmul(&key.t()?)? / (self.head_size as f64).sqrt())?
            .broadcast_add(attention_mask)?;
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        weights
            .matmul(&value)?
            .transpose(1, 2)?
            .contiguous()?
            .flatten_from(D::Minus2)
    }
}

/// GELU as BERT defines it, x/2 (1 + erf(x/√2)), in one pass over contiguous f32.
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-rational-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(format!(
                "gelu takes contiguous f32, not {:?}",
                storage.dtype()
            )));
        };
        let out: Vec<f32> = values[start..end].iter().map(|&x| gelu(x)).collect();
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a ratio of two odd and even polynomials on [-4, 4] (erf is 1 to f32 precision
/// beyond): the approximation Eigen and XLA use for f32, within 5e-7 of the true value in f32
/// arithmetic. No branch and no call, so a slice of them is vectorised. Plain multiply and
/// add, not `mul_add`: built for any x86-64, `mul_add` is a call to a software fma.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rational_erf_is_within_half_a_millionth_of_candles() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) - candle_core::cpu::erf::erf_f32(x)).abs())
            .fold(0.0_f32, f32::max);
        assert!(worst < 5e-7, "worst error {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert!((erf(1.0) - 0.842_700_8).abs() < 1e-6);
    }

    #[test]
    fn gelu_of_a_tensor_is_gelu_of_each_value_whatever_the_layout() {
        let device = candle_core::Device::Cpu;
        let xs = Tensor::arange(-40.0_f32, 40.0, &device)
            .unwrap()
            .affine(0.1, 0.0)
            .unwrap()
            .reshape((8, 10))
            .unwrap();
        let by_candle: Vec<f32> = xs
            .gelu_erf()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let ours: Vec<f32> = xs
            .apply_op1_no_bwd(&Gelu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in by_candle.iter().zip(&ours) {
            assert!((a - b).abs() < 1e-6, "{a} against {b}");
        }
        // A transposed view is not contiguous: an error, never a wrong answer.
        assert!(xs.t().unwrap().apply_op1_no_bwd(&Gelu).is_err());
    }
}
