"""The Python client of the download benchmark, following Tallyfy's own sample.

Tallyfy's documented Python code for the download endpoint calls
`requests.get(url, headers=..., stream=True)` once per file, takes the file
name from `Content-Disposition`, and writes `response.iter_content(8192)`
chunks to the file. This script does exactly that for every ID it is given,
from one thread or from a pool of threads, and prints one line,
`elapsed=<seconds> bytes=<count> files=<count>`. The clock starts after the
interpreter has started and imported `requests`, which takes 0.3 to 0.5
seconds on the benchmark machine and would otherwise dwarf small downloads.
"""

import argparse
import concurrent.futures
import os
import re
import sys
import time

import requests

CHUNK_SIZE = 8192


def download(base, org, token, verify, file_id, out_dir):
    """Save one file the way Tallyfy's sample does and return its size."""
    url = f"{base}/organizations/{org}/file/{file_id}/dl"
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Tallyfy-Client": "APIClient",
    }
    response = requests.get(url, headers=headers, stream=True, verify=verify)
    response.raise_for_status()

    file_name = f"downloaded_{file_id}"
    disposition = response.headers.get("content-disposition")
    if disposition:
        match = re.search(r'filename="?([^";]+)"?', disposition)
        if match:
            file_name = match.group(1)

    size = 0
    with open(os.path.join(out_dir, file_name), "wb") as output:
        for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
            output.write(chunk)
            size += len(chunk)
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="API base URL, such as http://127.0.0.1:8080/api")
    parser.add_argument("--org", required=True, help="organization ID")
    parser.add_argument("--token", required=True, help="access token")
    parser.add_argument("--ids", required=True, help="file of file IDs, one a line")
    parser.add_argument("--out", required=True, help="folder to save the files in")
    parser.add_argument("--ca", help="PEM file of the CA that signed the server certificate")
    parser.add_argument("--threads", type=int, default=1, help="number of concurrent downloads")
    args = parser.parse_args()

    with open(args.ids, encoding="ascii") as ids_file:
        ids = ids_file.read().split()
    verify = args.ca if args.ca else True

    started = time.perf_counter()
    if args.threads == 1:
        sizes = [download(args.base, args.org, args.token, verify, i, args.out) for i in ids]
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.threads) as pool:
            sizes = list(
                pool.map(lambda i: download(args.base, args.org, args.token, verify, i, args.out), ids)
            )
    elapsed = time.perf_counter() - started

    print(f"elapsed={elapsed:.6f} bytes={sum(sizes)} files={len(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
