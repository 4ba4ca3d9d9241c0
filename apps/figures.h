// Training figures rendered straight to PNG: the forward/reverse diffusion grid, the loss curve, the bound's terms
// and binary sequences.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace swirl::app {

// 2-D points, interleaved: x0, y0, x1, y1, ...
struct PointSet {
    std::vector<float> xy;
};

// A 2x3 grid in the style of Sohl-Dickstein et al. (2015): the top row shows the forward process q at three
// times, the bottom row the model's samples p at the same times. Each panel spans [-2, 2] x [-2, 2] with y
// pointing up; points outside it are not drawn. `caption` heads the image. Throws swirl::Error if a
// PointSet has an odd number of coordinates or the PNG cannot be written.
void draw_diffusion_grid(const std::string& path, const std::array<PointSet, 3>& forward,
                         const std::array<PointSet, 3>& reverse, const std::array<std::string, 3>& column_titles,
                         const std::string& caption);

// Loss against step: the raw curve in a light colour under an exponential moving average in a darker one.
// The y axis turns logarithmic when every loss is positive and they span more than a factor of 20.
// NaN and Inf points are skipped. Throws swirl::Error when the vectors differ in length or hold no finite
// point, or when the PNG cannot be written.
void draw_loss_curve(const std::string& path, const std::vector<double>& steps, const std::vector<double>& losses,
                     const std::string& title);

// Where the bits of the bound K go (swirl eval --png): K = entropy terms - sum over t of KL_t.
struct BoundTerms {
    std::vector<double> kl_bits;  // KL_t for t = 2..T, bits per point
    double entropy_bits = 0;      // H_q(X_T|X_0) - H_q(X_1|X_0) - H_p(X_T) (+ d log2 of the data scale), bits
    double K_bits = 0, K_minus_L_null_bits = 0;
    std::string unit = "point";   // what the bits are per: "point" (swiss roll) or "sequence" (heartbeat)
};

// Two panels: left, a bar per step t with its KL (the bits that step costs); right, the entropy terms, minus the
// KL sum, and K. Throws swirl::Error when there is no step or a value is not finite, or the PNG cannot be written.
void draw_bound_figure(const std::string& path, const BoundTerms& terms, const std::string& caption);

// Binary sequences as a raster, row-major: bits[r * cols + c] is row r's bin c (0 or 1).
struct BitRaster {
    int rows = 0, cols = 0;
    std::vector<unsigned char> bits;
};

// Binary data read as people read it: top left the model's samples (a row per sequence, a cell per bin, dark for
// a 1), top right the data's own sequences; below, one reverse trajectory with t across, x_T at the left to x_0 at
// the right, a row per bin (columns thinned to fit). Throws swirl::Error when a raster's bits do not match its size
// or the PNG cannot be written.
void draw_bit_figure(const std::string& path, const BitRaster& samples, const BitRaster& data,
                     const BitRaster& trajectory, const std::string& caption);

}  // namespace swirl::app
