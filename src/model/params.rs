//! Named access to a module's parameters (GPT-2 style dotted paths).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// One float parameter of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Dotted path, e.g. `h.0.attn.c_attn.weight`.
    pub name: String,
    /// Burn's id of the parameter (keys gradients and optimizer state).
    pub id: ParamId,
    /// The parameter's shape.
    pub shape: Vec<usize>,
}

/// Every float parameter of `module`, in module order, with its dotted path.
pub fn named_params<B: Backend, M: Module<B>>(module: &M) -> Vec<ParamInfo> {
    let mut collector = Collector { path: Vec::new(), out: Vec::new(), values: None };
    module.visit(&mut collector);
    collector.out
}

/// [`named_params`] with each parameter's values (row-major, as f32): a copy to the host.
pub fn named_values<B: Backend, M: Module<B>>(module: &M) -> Vec<(ParamInfo, Vec<f32>)> {
    let mut collector = Collector { path: Vec::new(), out: Vec::new(), values: Some(Vec::new()) };
    module.visit(&mut collector);
    collector.out.into_iter().zip(collector.values.unwrap_or_default()).collect()
}

struct Collector {
    path: Vec<String>,
    out: Vec<ParamInfo>,
    values: Option<Vec<Vec<f32>>>,
}

impl<B: Backend> ModuleVisitor<B> for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.out.push(ParamInfo {
            name: self.path.join("."),
            id: param.id,
            shape: param.val().dims().to_vec(),
        });
        if let Some(values) = &mut self.values {
            values.push(param.val().into_data().iter::<f32>().collect());
        }
    }
}

/// Replaces the value of every float parameter of `module` with `values(path, shape)`, a
/// host vector in row-major order for that shape. Parameters keep their ids and stay
/// trainable under autodiff. A parameter whose closure returns `Err` keeps its value, and
/// the messages come back in the error list (empty when every parameter was replaced).
pub fn replace_params<B: Backend, M: Module<B>>(
    module: M,
    values: impl FnMut(&str, &[usize]) -> Result<Vec<f32>, String>,
) -> (M, Vec<String>) {
    let mut replacer = Replacer { path: Vec::new(), values, errors: Vec::new() };
    let module = module.map(&mut replacer);
    (module, replacer.errors)
}

struct Replacer<F> {
    path: Vec<String>,
    values: F,
    errors: Vec<String>,
}

impl<B: Backend, F: FnMut(&str, &[usize]) -> Result<Vec<f32>, String>> ModuleMapper<B> for Replacer<F> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.dims();
        let value = match (self.values)(&self.path.join("."), &shape) {
            Ok(values) => {
                let fresh = Tensor::<B, D>::from_data(TensorData::new(values, shape), &tensor.device());
                // A fresh tensor does not track gradients: keep the parameter trainable.
                if tensor.is_require_grad() {
                    fresh.require_grad()
                } else {
                    fresh
                }
            }
            Err(message) => {
                self.errors.push(message);
                tensor
            }
        };
        Param::from_mapped_value(id, value, mapper)
    }
}
