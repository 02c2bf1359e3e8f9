# One image for the web server and both django-q2 clusters (see docker-compose.yml).
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git bubblewrap nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV FACTORY_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && python manage.py collectstatic --no-input -v 0
EXPOSE 8000
