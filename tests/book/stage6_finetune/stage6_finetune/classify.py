"""Chapter 6 as the book writes it: SpamDataset, the classifier head (section 6.5), calc_loss_batch on the
last token, calc_accuracy_loader, train_classifier_simple and classify_review."""

import csv

import torch
from torch.utils.data import Dataset


class SpamDataset(Dataset):
    """Texts of a Label,Text CSV file, encoded, cut to max_length and padded with pad_token_id."""

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        """Texts [5, 6, 7] and [8], max_length=None -> [5, 6, 7] and [8, 50256, 50256]"""
        # The book reads the file with pd.read_csv; pandas is not among the course's packages.
        with open(csv_file, newline="", encoding="utf-8") as file:
            self.data = list(csv.DictReader(file))

        # Pre-tokenize texts
        self.encoded_texts = [tokenizer.encode(row["Text"]) for row in self.data]

        if max_length is None:
            self.max_length = self._longest_encoded_length()
        else:
            self.max_length = max_length
            # Truncate sequences if they are longer than max_length
            self.encoded_texts = [encoded_text[: self.max_length] for encoded_text in self.encoded_texts]

        # Pad sequences to the longest sequence
        self.encoded_texts = [
            encoded_text + [pad_token_id] * (self.max_length - len(encoded_text)) for encoded_text in self.encoded_texts
        ]

    def __getitem__(self, index):
        """dataset[1] -> (tensor([8, 50256, 50256]), tensor(0))"""
        encoded = self.encoded_texts[index]
        label = int(self.data[index]["Label"])
        return (torch.tensor(encoded, dtype=torch.long), torch.tensor(label, dtype=torch.long))

    def __len__(self):
        return len(self.data)

    def _longest_encoded_length(self):
        """[5, 6, 7] and [8] -> 3"""
        max_length = 0
        for encoded_text in self.encoded_texts:
            encoded_length = len(encoded_text)
            if encoded_length > max_length:
                max_length = encoded_length
        return max_length


def prepare_classifier(model, num_classes=2):
    """Section 6.5's steps as one function: GPT-2 124M -> last block, final norm and a 2-class head trainable"""
    for param in model.parameters():
        param.requires_grad = False

    # The book writes in_features=BASE_CONFIG["emb_dim"]; the model's own width is the same number.
    model.out_head = torch.nn.Linear(in_features=model.out_head.in_features, out_features=num_classes)

    for param in model.trf_blocks[-1].parameters():
        param.requires_grad = True

    for param in model.final_norm.parameters():
        param.requires_grad = True

    return model


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    """Predictions [1, 0, 1] for labels [1, 1, 1] -> 0.6667"""
    model.eval()
    correct_predictions, num_examples = 0, 0

    if num_batches is None:
        num_batches = len(data_loader)
    else:
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            input_batch, target_batch = input_batch.to(device), target_batch.to(device)

            with torch.no_grad():
                logits = model(input_batch)[:, -1, :]  # Logits of last output token: (B, num_classes)
            predicted_labels = torch.argmax(logits, dim=-1)  # (B,)

            num_examples += predicted_labels.shape[0]
            correct_predictions += (predicted_labels == target_batch).sum().item()
        else:
            break
    return correct_predictions / num_examples


def calc_loss_batch(input_batch, target_batch, model, device):
    """The last token's logits against the labels: inputs (2, 5) -> logits (2, 2) -> one loss"""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]  # Logits of last output token: (B, num_classes)
    loss = torch.nn.functional.cross_entropy(logits, target_batch)
    return loss


def calc_loss_loader(data_loader, model, device, num_batches=None):
    """The mean loss over the first num_batches batches, as chapter 5's"""
    total_loss = 0.0
    if len(data_loader) == 0:
        return float("nan")
    elif num_batches is None:
        num_batches = len(data_loader)
    else:
        # Reduce the number of batches to match the total number of batches in the data loader
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            total_loss += loss.item()
        else:
            break
    return total_loss / num_batches


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    """(train loss, val loss) over eval_iter batches, in eval mode"""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    """2 epochs of 3 batches of 4, eval_freq=2 -> 3 losses each, 2 accuracies each, 24 examples seen"""
    # Initialize lists to track losses and examples seen
    train_losses, val_losses, train_accs, val_accs = [], [], [], []
    examples_seen, global_step = 0, -1

    # Main training loop
    for epoch in range(num_epochs):
        model.train()  # Set model to training mode

        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()  # Reset loss gradients from previous batch iteration
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()  # Calculate loss gradients
            optimizer.step()  # Update model weights using loss gradients
            examples_seen += input_batch.shape[0]  # New: track examples instead of tokens
            global_step += 1

            # Optional evaluation step
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                print(f"Ep {epoch+1} (Step {global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")

        # Calculate accuracy after each epoch
        train_accuracy = calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter)
        val_accuracy = calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter)
        print(f"Training accuracy: {train_accuracy*100:.2f}% | Validation accuracy: {val_accuracy*100:.2f}%")
        train_accs.append(train_accuracy)
        val_accs.append(val_accuracy)

    return train_losses, val_losses, train_accs, val_accs, examples_seen


def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    """max_length=4, "Hi" -> [17250] is run as [[17250, 50256, 50256, 50256]] -> "spam" or "not spam" """
    model.eval()

    # Prepare inputs to the model
    input_ids = tokenizer.encode(text)
    supported_context_length = model.pos_emb.weight.shape[0]
    # The book's min(max_length, ...) fails on max_length=None; the lesson reads None as no padding.
    if max_length is None:
        max_length = min(len(input_ids), supported_context_length)

    # Truncate sequences if they too long
    input_ids = input_ids[: min(max_length, supported_context_length)]

    # Pad sequences to the longest sequence
    input_ids += [pad_token_id] * (max_length - len(input_ids))
    input_tensor = torch.tensor(input_ids, device=device).unsqueeze(0)  # add batch dimension: (1, T)

    # Model inference
    with torch.no_grad():
        logits = model(input_tensor)[:, -1, :]  # Logits of the last output token: (1, num_classes)
    predicted_label = torch.argmax(logits, dim=-1).item()

    # Return the classified result
    return "spam" if predicted_label == 1 else "not spam"
