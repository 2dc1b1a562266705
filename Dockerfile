# convscope on the CPU: docker build -t convscope . && docker run -p 8000:8000 -v convscope-data:/data convscope
# The owner's address (with its token) is printed in the container's log. The same image runs the
# split deployment's `convscope trainer` and `convscope web` as commands (compose.yaml, docs/deploy.md).

# Build the wheel (the package with its page: templates, scripts, styles, vendored libraries) ...
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

# ... and install it, as `pip install convscope` would: nothing of the checkout is in the image.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    CONVSCOPE_CACHE=/data \
    CONVSCOPE_RUNS_DIR=/data/runs \
    CONVSCOPE_HOST=0.0.0.0 \
    CONVSCOPE_BROWSER=false
# PyTorch's CPU build first: the default wheel pulls several GB of CUDA libraries. For a trainer on
# a CUDA host: docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cuXXX (your driver's).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url "$TORCH_INDEX"
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/convscope-*.whl && rm -r /tmp/dist

# CIFAR-10 is downloaded once into /data (or mount your copy and set CONVSCOPE_DATA=/data/...); the
# runs (their database and checkpoints) are kept in /data/runs, so they outlive the container.
VOLUME /data
EXPOSE 8000
CMD ["convscope", "serve"]
