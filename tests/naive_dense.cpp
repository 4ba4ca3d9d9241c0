// The naive dense layers of tests/naive_dense.h: plain loops over host copies in double.
#include "tests/naive_dense.h"

#include "tensor/error.h"

namespace swirl::naive {

namespace {

// A host matrix in double, row-major: element (i, j) at data[i * cols + j].
struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<double> data;

    Matrix(int64_t r, int64_t c) : rows(r), cols(c), data(static_cast<std::size_t>(r * c), 0.0) {}
    explicit Matrix(const Tensor& t)  // a [N] tensor becomes one row
        : rows(t.rank() == 2 ? t.dim(0) : 1), cols(t.rank() == 2 ? t.dim(1) : t.numel()), data(t.to_vector()) {
        SWIRL_CHECK(t.rank() == 1 || t.rank() == 2, "naive: expected a vector or a matrix, got {}", shape_str(t.shape()));
    }
    double& operator()(int64_t i, int64_t j) { return data[static_cast<std::size_t>(i * cols + j)]; }
    double operator()(int64_t i, int64_t j) const { return data[static_cast<std::size_t>(i * cols + j)]; }
    Tensor tensor(const Shape& shape) const { return Tensor::from_vector(data, shape, DType::f64); }
    Tensor tensor() const { return tensor({rows, cols}); }
};

Matrix transposed(const Matrix& m) {
    Matrix t(m.cols, m.rows);
    for (int64_t i = 0; i < m.rows; ++i)
        for (int64_t j = 0; j < m.cols; ++j) t(j, i) = m(i, j);
    return t;
}

// out [M, N] = a [M, K] @ b [K, N]
Matrix product(const Matrix& a, const Matrix& b) {
    SWIRL_CHECK(a.cols == b.rows, "naive::matmul: inner sizes differ, {} vs {}", a.cols, b.rows);
    Matrix out(a.rows, b.cols);
    for (int64_t i = 0; i < a.rows; ++i)
        for (int64_t j = 0; j < b.cols; ++j)
            for (int64_t k = 0; k < a.cols; ++k) out(i, j) += a(i, k) * b(k, j);
    return out;
}

// y [M, N] = x [M, K] @ weight [N, K]^T + bias [N] (bias as one row), then ReLU.
Matrix dense(const Matrix& x, const Matrix& weight, const Matrix& bias, bool relu) {
    Matrix y = product(x, transposed(weight));
    for (int64_t i = 0; i < y.rows; ++i)
        for (int64_t j = 0; j < y.cols; ++j) {
            y(i, j) += bias(0, j);
            if (relu && y(i, j) < 0) y(i, j) = 0;
        }
    return y;
}

Matrix rows_of(const Matrix& m, int64_t begin, int64_t end) {
    Matrix out(end - begin, m.cols);
    for (int64_t i = begin; i < end; ++i)
        for (int64_t j = 0; j < m.cols; ++j) out(i - begin, j) = m(i, j);
    return out;
}

void add_into(Matrix& total, const Matrix& part) {
    for (std::size_t e = 0; e < total.data.size(); ++e) total.data[e] += part.data[e];
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    const Matrix left = trans_a ? transposed(Matrix(a)) : Matrix(a);
    const Matrix right = trans_b ? transposed(Matrix(b)) : Matrix(b);
    return product(left, right).tensor();
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, bool relu) {
    return dense(Matrix(x), Matrix(weight), Matrix(bias), relu).tensor();
}

LinearGradients linear_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight) {
    const Matrix g(grad_y);
    Matrix grad_bias(1, g.cols);
    for (int64_t i = 0; i < g.rows; ++i)
        for (int64_t j = 0; j < g.cols; ++j) grad_bias(0, j) += g(i, j);
    return {product(g, Matrix(weight)).tensor(), product(transposed(g), Matrix(x)).tensor(),
            grad_bias.tensor({g.cols})};
}

Tensor mlp(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups) {
    const Matrix input(x);
    Matrix out(input.rows, 0);
    for (const MlpGroup& group : groups) {
        Matrix h = rows_of(input, group.begin, group.end);
        for (std::size_t l : group.path)
            h = dense(h, Matrix(layers[l].weight), Matrix(layers[l].bias), layers[l].relu);
        if (out.cols == 0) out = Matrix(input.rows, h.cols);
        for (int64_t i = 0; i < h.rows; ++i)
            for (int64_t j = 0; j < h.cols; ++j) out(group.begin + i, j) = h(i, j);
    }
    return out.tensor();
}

MlpGradients mlp_backward(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                          const std::vector<MlpGroup>& groups) {
    const Matrix input(x), grad(grad_out);
    Matrix grad_x(input.rows, input.cols);
    std::vector<Matrix> grad_weights, grad_biases;
    std::vector<bool> used(layers.size(), false);
    for (const DenseLayer& layer : layers) {
        grad_weights.emplace_back(layer.weight.dim(0), layer.weight.dim(1));
        grad_biases.emplace_back(1, layer.weight.dim(0));
    }
    for (const MlpGroup& group : groups) {
        // Forward, keeping each layer's input and output.
        std::vector<Matrix> inputs, outputs;
        Matrix h = rows_of(input, group.begin, group.end);
        for (std::size_t l : group.path) {
            inputs.push_back(h);
            h = dense(h, Matrix(layers[l].weight), Matrix(layers[l].bias), layers[l].relu);
            outputs.push_back(h);
        }
        // Backward, last layer first: the ReLU's mask, then the linear layer's three gradients.
        Matrix g = rows_of(grad, group.begin, group.end);
        for (std::size_t p = group.path.size(); p-- > 0;) {
            const std::size_t l = group.path[p];
            used[l] = true;
            if (layers[l].relu)
                for (std::size_t e = 0; e < g.data.size(); ++e)
                    if (outputs[p].data[e] <= 0) g.data[e] = 0;
            const LinearGradients lg = linear_backward(g.tensor(), inputs[p].tensor(), layers[l].weight);
            add_into(grad_weights[l], Matrix(lg.weight));
            add_into(grad_biases[l], Matrix(lg.bias));
            g = Matrix(lg.x);
        }
        for (int64_t i = 0; i < g.rows; ++i)
            for (int64_t j = 0; j < g.cols; ++j) grad_x(group.begin + i, j) = g(i, j);
    }
    MlpGradients result{grad_x.tensor(), {}, {}};
    for (std::size_t l = 0; l < layers.size(); ++l) {
        result.weights.push_back(used[l] ? grad_weights[l].tensor() : Tensor());
        result.biases.push_back(used[l] ? grad_biases[l].tensor({grad_biases[l].cols}) : Tensor());
    }
    return result;
}

}  // namespace swirl::naive
