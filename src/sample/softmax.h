#ifndef ST_SAMPLE_SOFTMAX_H
#define ST_SAMPLE_SOFTMAX_H
/* e[i] = exp((logits[i] - mx) * inv_temp); *z = sum e, *zx = sum e * (logits[i] - mx) * inv_temp. */
void st_softmax_pass(const float *logits, int n, float mx, float inv_temp, float *e, double *z, double *zx);
#endif
