# convscope on the CPU: docker build -t convscope . && docker run -p 8000:8000 -v convscope-data:/data convscope
# The owner's address (with its token) is printed in the container's log.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    CONVSCOPE_CACHE=/data \
    CONVSCOPE_RUNS_DIR=/data/runs
# PyTorch's CPU build first: the default wheel pulls several GB of CUDA libraries.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY templates ./templates
COPY static ./static
RUN pip install -e .

# CIFAR-10 is downloaded once into /data (or mount your copy and pass --data /data/...); the runs
# (their database and checkpoints) are kept in /data/runs, so they outlive the container.
VOLUME /data
EXPOSE 8000
CMD ["convscope", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-browser"]
