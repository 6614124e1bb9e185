//! Named access to a module's parameters (GPT-2 style dotted paths).

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

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
    let mut collector = Collector { path: Vec::new(), out: Vec::new() };
    module.visit(&mut collector);
    collector.out
}

struct Collector {
    path: Vec<String>,
    out: Vec<ParamInfo>,
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
    }
}
