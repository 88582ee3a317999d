// troupe-node: work in progress, replaced by the node bootstrap.
int main() { return 1; }
