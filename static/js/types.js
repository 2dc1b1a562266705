// Shapes of what crosses the wire (docs/protocol.md is the reference). Types only: JSDoc
// typedefs that editors and `tsc --checkJs` understand; this module exports nothing at run time.

/**
 * @typedef {"loading"|"training"|"paused"|"finished"|"error"} RunStatus
 *
 * @typedef {object} DataProgress
 * @property {string} stage    e.g. "download", "extract", "decode"
 * @property {number} done
 * @property {number} total
 *
 * @typedef {object} RunState
 * @property {RunStatus} status
 * @property {string} model
 * @property {Record<string, any>} config   TrainConfig fields (lr, momentum, batch_size, ...)
 * @property {number} step
 * @property {number} epoch
 * @property {number} images_seen
 * @property {number} seconds
 * @property {number} images_per_second
 * @property {string|null} message
 * @property {DataProgress|null} data_progress
 * @property {string} device
 * @property {"bf16"|"fp16"|"fp32"} precision
 * @property {{index: number, label: string}|null} [probe]  the test image probes run on
 * @property {string|null} [run_id]   the run in the run store (GET /api/runs)
 * @property {"trainer"|"watch"} [source]   convscope's own trainer, or a loop watched in its script (convscope.watch)
 * @property {boolean} [control]   whether the page may pause and change the run
 * @property {DatasetInfo} [dataset]  what it trains on
 *
 * @typedef {object} DatasetInfo     the run's dataset (server/protocol.py DatasetInfo)
 * @property {string} source
 * @property {number} train_size
 * @property {number} test_size
 * @property {number} channels       3 (RGB) or 1 (grayscale)
 * @property {number} height
 * @property {number} width
 * @property {string[]} classes
 *
 * @typedef {object} RunSummary      a run kept in the run store (GET /api/runs)
 * @property {string} id
 * @property {string} name           the model's name, or an uploaded checkpoint's
 * @property {number} created        unix time (s)
 * @property {number} updated        unix time (s) of its newest point or change
 * @property {string} status         as it was last
 * @property {number} step
 * @property {number} epoch
 * @property {number|null} test_accuracy    of its newest evaluation (0..1)
 * @property {number|null} checkpoint_step  it can be resumed from this step; null: it cannot
 * @property {Record<string, any>} config
 * @property {boolean} live          the run training now
 *
 * @typedef {object} LayerRow
 * @property {number} index          top-level layer index (what probe blobs refer to)
 * @property {number[]} path         nested position for layers inside blocks
 * @property {string} name
 * @property {string} type
 * @property {number[]} output_shape (C, H, W) or (N,)
 * @property {number} params         frozen ones included
 * @property {number} trainable      what the optimiser updates
 * @property {number} macs
 * @property {number} depth
 *
 * @typedef {object} LayerField      a field of a layer type (GET /api/layers)
 * @property {"int"|"int0"|"number"|"prob"|"bool"|"choice"|"layers"|"branches"} kind
 *                                   int: > 0, int0: >= 0, prob: in [0, 1), layers: a list of layers,
 *                                   branches: a list of layer lists
 * @property {boolean} required
 * @property {any} default           when not required (and not same_as)
 * @property {string[]|null} choices a choice's options
 * @property {string|null} same_as   defaults to this other field's value (pool's stride: its size)
 *
 * @typedef {object} LayerTypeInfo   a layer type (GET /api/layers, server/models/layers.py)
 * @property {string} about          one sentence
 * @property {Record<string, LayerField>} fields   in the order of the normalised spec
 * @property {any} starter           what a new layer of this type starts as
 *
 * @typedef {object} MetricPoint
 * @property {number} step
 * @property {number} epoch
 * @property {number} loss
 * @property {number} accuracy
 * @property {number} lr
 * @property {number} batch_size
 * @property {number} images_per_second
 * @property {number} seconds
 * @property {number} time
 *
 * @typedef {object} EvalPoint
 * @property {number} step
 * @property {number} epoch
 * @property {number} loss
 * @property {number} accuracy
 * @property {number[]} per_class
 * @property {number[][]} [confusion]
 *
 * @typedef {object} Preset
 * @property {string} name
 * @property {string} title
 * @property {number} params
 * @property {number} macs
 * @property {string} [note]
 *
 * @typedef {object} Prediction
 * @property {number} index
 * @property {string|number} label
 * @property {{class: string|number, p: number}[]} top
 *
 * @typedef {object} Blob
 * @property {number} layer          top-level layer index; -1 for the raw input image
 * @property {"activation"|"activation_grad"|"filter"|"filter_grad"|"input"} kind
 * @property {number} count
 * @property {number} height
 * @property {number} width
 * @property {number} channels
 * @property {number} min
 * @property {number} max
 * @property {number} offset
 * @property {number} length
 * @property {Uint8Array} [pixels]   filled in by probe.js: a view of this blob's bytes
 *
 * @typedef {object} ProbeFrame
 * @property {"probe"} type
 * @property {number} step
 * @property {{source: "test"|"upload", index: number|null}} image
 * @property {Blob[]} blobs
 */

export {};
