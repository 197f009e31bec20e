/* Prints the size and every field offset of the version-1 structs. Compiled against the
 * frozen 0.1.0 and 0.2.0 headers (Tests/c/abi_v1, abi_v2) and against include/recur.h; run.sh
 * requires the same output (fields only ever appended, the by-value structs unchanged). */
#include <recur.h>
#include <stddef.h>
#include <stdio.h>

#define F(T, f) printf("%s.%s %zu\n", #T, #f, offsetof(T, f))
#define S(T) printf("%s size-v1-prefix %zu\n", #T, sizeof(T))

int main(void) {
    F(recur_load_options, struct_size); F(recur_load_options, flags); F(recur_load_options, max_file_size);
    F(recur_load_options, max_header_size); F(recur_load_options, max_tensors); F(recur_load_options, max_dimension);
    F(recur_load_options, max_ratio); F(recur_load_options, max_tensor_elements); F(recur_load_options, max_payload_size);
    F(recur_model_config, struct_size); F(recur_model_config, input_size); F(recur_model_config, num_layers);
    F(recur_model_config, output_size); F(recur_model_config, layer_sizes); F(recur_model_config, activations);
    F(recur_model_config, output_transform); F(recur_model_config, weight_dtype); F(recur_model_config, labels);
    F(recur_model_config, num_metadata); F(recur_model_config, metadata_keys); F(recur_model_config, metadata_values);
    F(recur_save_options, struct_size); F(recur_save_options, weight_dtype); F(recur_save_options, compression_level);
    F(recur_trainer_config, struct_size); F(recur_trainer_config, loss); F(recur_trainer_config, optimizer);
    F(recur_trainer_config, nesterov); F(recur_trainer_config, learning_rate); F(recur_trainer_config, momentum);
    F(recur_trainer_config, beta1); F(recur_trainer_config, beta2); F(recur_trainer_config, epsilon);
    F(recur_trainer_config, weight_decay); F(recur_trainer_config, clip_norm); F(recur_trainer_config, batch_size);
    F(recur_trainer_config, epochs); F(recur_trainer_config, shuffle); F(recur_trainer_config, scope_layers);
    F(recur_trainer_config, seed); F(recur_trainer_config, bptt_steps); F(recur_trainer_config, progress_every_batch);
    F(recur_dataset, struct_size); F(recur_dataset, target_kind); F(recur_dataset, inputs); F(recur_dataset, inputs_len);
    F(recur_dataset, lengths); F(recur_dataset, num_sequences); F(recur_dataset, classes); F(recur_dataset, classes_len);
    F(recur_dataset, values); F(recur_dataset, values_len);
    /* Frozen structs: the whole layout. */
    F(recur_progress, epoch); F(recur_progress, epochs); F(recur_progress, step); F(recur_progress, loss);
    F(recur_progress, metric); F(recur_progress, end_of_epoch); S(recur_progress);
    F(recur_evaluation, loss); F(recur_evaluation, accuracy); F(recur_evaluation, rmse); F(recur_evaluation, count);
    S(recur_evaluation);
    return 0;
}
