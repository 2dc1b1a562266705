// ConvNetJS 0.3.0 training its own CIFAR-10 demo network under node, for benchmarks/peer.py.
//
//     NODE_PATH=<dir>/node_modules node benchmarks/peer_convnetjs.js IMAGES_FILE SECONDS
//
// IMAGES_FILE: N images of 3072 bytes each (uint8, CIFAR's channel-planar order: 1024 red, 1024
// green, 1024 blue, rows top to bottom), then N label bytes (0-9). The network and the trainer's
// settings are the demo's; each image becomes a fresh convnetjs.Vol of pixel/255 - 0.5, as the demo
// builds one per sample, mirrored left-right half the time (the demo's flips; convscope's
// preset flips too). Trains one image at a time (ConvNetJS's Trainer accumulates 4 into a batch)
// for SECONDS after a short warm-up, and prints one JSON line:
//     {"images": ..., "seconds": ..., "images_per_second": ..., "loss": ...}
// where loss is the mean softmax cross-entropy over the timed images.
'use strict';

const fs = require('fs');
const convnetjs = require('convnetjs');

const SIDE = 32; // pixels, height and width
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;
const WARMUP_IMAGES = 16; // four batches, so the JIT has compiled the hot loops before timing

function demoNetwork() {
  const layers = [
    { type: 'input', out_sx: SIDE, out_sy: SIDE, out_depth: 3 },
    { type: 'conv', sx: 5, filters: 16, stride: 1, pad: 2, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'conv', sx: 5, filters: 20, stride: 1, pad: 2, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'conv', sx: 5, filters: 20, stride: 1, pad: 2, activation: 'relu' },
    { type: 'pool', sx: 2, stride: 2 },
    { type: 'softmax', num_classes: 10 },
  ];
  const net = new convnetjs.Net();
  net.makeLayers(layers);
  return net;
}

// Image i of the planar uint8 buffer as a Vol (w index ((32 * y) + x) * 3 + channel).
function toVol(pixels, i, flip) {
  const vol = new convnetjs.Vol(SIDE, SIDE, 3, 0.0);
  const base = i * IMAGE_BYTES;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sourceX = flip ? SIDE - 1 - x : x;
        vol.w[(SIDE * y + x) * 3 + c] = pixels[base + c * PLANE + y * SIDE + sourceX] / 255.0 - 0.5;
      }
    }
  }
  return vol;
}

function main() {
  const [file, secondsArg] = process.argv.slice(2);
  const seconds = Number(secondsArg);
  if (!file || !(seconds > 0)) {
    console.error('usage: node peer_convnetjs.js IMAGES_FILE SECONDS');
    process.exit(2);
  }
  const data = fs.readFileSync(file);
  const count = data.length / (IMAGE_BYTES + 1);
  if (!Number.isInteger(count) || count < 1) {
    console.error(`${file}: ${data.length} bytes is not N x (3072 + 1)`);
    process.exit(2);
  }
  const pixels = data.subarray(0, count * IMAGE_BYTES);
  const labels = data.subarray(count * IMAGE_BYTES);
  if (labels.some((label) => label > 9)) {
    console.error(`${file}: a label byte is not 0-9`);
    process.exit(2);
  }

  const net = demoNetwork();
  const trainer = new convnetjs.Trainer(net, { method: 'adadelta', batch_size: 4, l2_decay: 0.0001 });

  let next = 0; // walks the images in order, round and round
  function trainOne() {
    const i = next;
    next = (next + 1) % count;
    return trainer.train(toVol(pixels, i, Math.random() < 0.5), labels[i]).cost_loss;
  }

  for (let k = 0; k < WARMUP_IMAGES; k++) trainOne();
  let images = 0;
  let lossSum = 0.0;
  const start = process.hrtime.bigint();
  let elapsed = 0.0;
  while (elapsed < seconds) {
    lossSum += trainOne();
    images++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(JSON.stringify({
    images: images, seconds: elapsed, images_per_second: images / elapsed, loss: lossSum / images,
  }));
}

main();
